using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace NsqSharp.Nsqd.Tests.Support;

/// <summary>
/// Certificates made at test time: a CA, a server certificate for 127.0.0.1 signed by it, a
/// client certificate signed by it, and a self-signed "rogue" client certificate. PEM files for
/// nsqd's --tls-cert/--tls-key/--tls-root-ca-file are written into a directory on demand.
/// </summary>
public sealed class TestCertificates
{
    private static readonly Lazy<TestCertificates> Shared = new(() => new TestCertificates());

    private readonly ECDsa _serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    private TestCertificates()
    {
        var notBefore = DateTimeOffset.UtcNow.AddDays(-1);
        var notAfter = DateTimeOffset.UtcNow.AddDays(30);

        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=nsqsharp test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        Ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        var serverRequest = new CertificateRequest("CN=127.0.0.1", _serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        san.AddDnsName("localhost");
        serverRequest.CertificateExtensions.Add(san.Build());
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        Server = serverRequest.Create(Ca, notBefore, notAfter, RandomSerial());

        Client = Issue("CN=nsq-test-client", Ca, notBefore, notAfter);
        using var rogueKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rogueRequest = new CertificateRequest("CN=rogue client", rogueKey, HashAlgorithmName.SHA256);
        rogueRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        Rogue = Reload(rogueRequest.CreateSelfSigned(notBefore, notAfter));
    }

    public static TestCertificates Instance => Shared.Value;

    public X509Certificate2 Ca { get; }

    /// <summary>Public part only (nsqd gets it as PEM files).</summary>
    public X509Certificate2 Server { get; }

    /// <summary>Client certificate signed by the CA, with its private key.</summary>
    public X509Certificate2 Client { get; }

    /// <summary>Self-signed client certificate (not trusted by the CA), with its private key.</summary>
    public X509Certificate2 Rogue { get; }

    /// <summary>Writes server.pem, server.key and ca.pem into the directory; returns (cert, key, ca) paths.</summary>
    public (string Cert, string Key, string Ca) WritePem(string directory)
    {
        var cert = Path.Combine(directory, "server.pem");
        var key = Path.Combine(directory, "server.key");
        var ca = Path.Combine(directory, "ca.pem");
        File.WriteAllText(cert, Server.ExportCertificatePem() + "\n" + Ca.ExportCertificatePem());
        File.WriteAllText(key, _serverKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(ca, Ca.ExportCertificatePem());
        return (cert, key, ca);
    }

    private static X509Certificate2 Issue(string subject, X509Certificate2 issuer, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(issuer, notBefore, notAfter, RandomSerial());
        using var withKey = issued.CopyWithPrivateKey(key);
        return Reload(withKey);
    }

    /// <summary>Round-trips through PKCS#12 so SslStream can use the private key on every platform.</summary>
    private static X509Certificate2 Reload(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);

    private static byte[] RandomSerial() => RandomNumberGenerator.GetBytes(12);
}
