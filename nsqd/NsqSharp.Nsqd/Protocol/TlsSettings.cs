using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>TLS for the TCP upgrade and the HTTPS listener: --tls-cert/--tls-key (PEM), client auth policy, root CA, min version.</summary>
public sealed class TlsSettings
{
    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection? _rootCas;
    private readonly string _clientAuthPolicy;
    private readonly SslProtocols _protocols;

    public TlsSettings(NsqdOptions options)
    {
        _certificate = X509Certificate2.CreateFromPemFile(options.TlsCert, options.TlsKey);
        _clientAuthPolicy = options.TlsClientAuthPolicy;
        if (options.TlsRootCaFile.Length > 0)
        {
            _rootCas = [];
            _rootCas.ImportFromPemFile(options.TlsRootCaFile);
        }

        _protocols = options.TlsMinVersion switch
        {
            "tls1.3" => SslProtocols.Tls13,
            "tls1.2" => SslProtocols.Tls12 | SslProtocols.Tls13,
            // TLS 1.0/1.1 are disabled by the OS crypto policy; the lowest we can offer is 1.2.
            _ => SslProtocols.None,
        };
    }

    public X509Certificate2 Certificate => _certificate;

    public bool ClientCertificateRequired => _clientAuthPolicy.Length > 0;

    public SslProtocols Protocols => _protocols;

    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificate = _certificate,
        ClientCertificateRequired = ClientCertificateRequired,
        EnabledSslProtocols = _protocols,
        RemoteCertificateValidationCallback = ValidateClient,
    };

    private bool ValidateClient(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        ValidateClientCertificate(certificate, chain, errors);

    /// <summary>The --tls-client-auth-policy check, shared by the TCP upgrade and HTTPS.</summary>
    public bool ValidateClientCertificate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (_clientAuthPolicy.Length == 0)
        {
            return true;
        }

        if (certificate == null)
        {
            return false;
        }

        if (_clientAuthPolicy != "require-verify")
        {
            return true;
        }

        if (_rootCas == null)
        {
            return errors == SslPolicyErrors.None;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_rootCas);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(new X509Certificate2(certificate));
    }

    public static string VersionName(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls12 => "TLS1.2",
        SslProtocols.Tls13 => "TLS1.3",
        _ => protocol.ToString(),
    };
}
