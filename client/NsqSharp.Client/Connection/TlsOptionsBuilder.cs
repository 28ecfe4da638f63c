using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using NsqSharp.Client.Config;

namespace NsqSharp.Client.Connection;

/// <summary>Turns the <c>tls_*</c> options (and an optional <c>tls_config</c> base) into SslStream client options.</summary>
internal static class TlsOptionsBuilder
{
    public static SslClientAuthenticationOptions Build(NsqConfig config, string host)
    {
        var source = config.TlsOptions;
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = source?.TargetHost ?? host,
            EnabledSslProtocols = source?.EnabledSslProtocols ?? default,
            ClientCertificates = source?.ClientCertificates,
            CertificateRevocationCheckMode = source?.CertificateRevocationCheckMode ?? X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = source?.RemoteCertificateValidationCallback,
            LocalCertificateSelectionCallback = source?.LocalCertificateSelectionCallback,
            ApplicationProtocols = source?.ApplicationProtocols,
            CipherSuitesPolicy = source?.CipherSuitesPolicy,
            EncryptionPolicy = source?.EncryptionPolicy ?? EncryptionPolicy.RequireEncryption,
        };

        if (config.TlsMinVersion is { } min && TlsVersions.Parse(min) is { } protocols)
        {
            options.EnabledSslProtocols = protocols;
        }

        if (config.TlsCert != null && config.TlsKey != null)
        {
            var certificate = X509Certificate2.CreateFromPemFile(config.TlsCert, config.TlsKey);
            options.ClientCertificates = [certificate];
        }

        if (config.TlsInsecureSkipVerify)
        {
            options.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        else if (config.TlsRootCaFile != null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(config.TlsRootCaFile);
            if (roots.Count == 0)
            {
                throw new NsqNegotiationException($"no certificates in tls_root_ca_file {config.TlsRootCaFile}");
            }

            options.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                ValidateAgainstRoots(certificate, errors, roots);
        }

        return options;
    }

    // Trust only the given CAs (go-nsq's RootCAs), but still require the host name to match.
    private static bool ValidateAgainstRoots(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        if (certificate == null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
