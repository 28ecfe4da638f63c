namespace NsqSharp.Bench.Wire;

/// <summary>The broker answered with an error frame (e.g. "E_BAD_TOPIC ...") or broke the protocol.</summary>
internal sealed class BrokerErrorException(string message) : Exception(message);
