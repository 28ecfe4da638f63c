using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NsqSharp.Testing;

namespace NsqSharp.Client.Tests.Fakes;

/// <summary>A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, also as PEM files.</summary>
public sealed class TestCertificates : IDisposable
{
    private readonly TempDirectory _directory = new("nsqclient-tls");

    public TestCertificates()
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=NsqSharp Test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var now = DateTimeOffset.UtcNow;
        Ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));

        Server = Issue("CN=127.0.0.1", serverAuth: true);
        Client = Issue("CN=nsq-test-client", serverAuth: false);

        CaFile = Write("ca.pem", Ca.ExportCertificatePem());
        ClientCertFile = Write("client.pem", Client.ExportCertificatePem());
        using var clientKey = Client.GetRSAPrivateKey()!;
        ClientKeyFile = Write("client.key", clientKey.ExportPkcs8PrivateKeyPem());
        var otherCa = CertificateRequestFor("CN=Other CA");
        OtherCaFile = Write("other-ca.pem", otherCa.ExportCertificatePem());
    }

    public X509Certificate2 Ca { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 Client { get; }

    public string CaFile { get; }

    public string OtherCaFile { get; }

    public string ClientCertFile { get; }

    public string ClientKeyFile { get; }

    public void Dispose()
    {
        Ca.Dispose();
        Server.Dispose();
        Client.Dispose();
        _directory.Dispose();
    }

    private X509Certificate2 Issue(string subject, bool serverAuth)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [serverAuth ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
        }

        var now = DateTimeOffset.UtcNow;
        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        using var issued = request.Create(Ca, now.AddHours(-1), now.AddDays(7), serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        // round-trip through PKCS#12 so SslStream gets a persisted key on every platform
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pfx), null);
    }

    private static X509Certificate2 CertificateRequestFor(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private string Write(string name, string pem)
    {
        var path = Path.Combine(_directory.Path, name);
        File.WriteAllText(path, pem);
        return path;
    }
}
