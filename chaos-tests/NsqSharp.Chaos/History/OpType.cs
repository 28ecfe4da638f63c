namespace NsqSharp.Chaos.History;

/// <summary>
/// The "type" of a history line, as in Jepsen: an invoke opens an operation, ok/fail/info complete it.
/// Info is indeterminate: the operation may or may not have taken effect (e.g. a timeout).
/// </summary>
public enum OpType
{
    Invoke,
    Ok,
    Fail,
    Info,
}
