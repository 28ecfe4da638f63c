namespace NsqSharp.Lookupd.Host;

/// <summary>A cluster-mode flag nsqlookupd cannot run with (bad etcd URL, bad cluster name): exit status 1, not the usage error's 2.</summary>
internal sealed class ClusterSettingsException(string message, Exception inner) : Exception(message, inner);
