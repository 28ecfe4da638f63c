using System.Text;

namespace NsqSharp.Cluster.Metadata;

/// <summary>A compare-and-swap: conditions on keys' revisions or values, and what to do when they hold or not.</summary>
public sealed class Transaction
{
    public List<Condition> Conditions { get; } = [];

    public List<Operation> OnSuccess { get; } = [];

    public List<Operation> OnFailure { get; } = [];

    public Transaction If(Condition condition)
    {
        Conditions.Add(condition);
        return this;
    }

    public Transaction Then(Operation operation)
    {
        OnSuccess.Add(operation);
        return this;
    }

    public Transaction Else(Operation operation)
    {
        OnFailure.Add(operation);
        return this;
    }
}

public enum ConditionTarget
{
    ModRevision,
    CreateRevision,
    Version,
    Value,
}

/// <summary>One condition: the key's target compared for equality (or, for revisions, less/greater).</summary>
public sealed record Condition(string Key, ConditionTarget Target, ConditionOperator Operator, long Number, ReadOnlyMemory<byte> Bytes)
{
    /// <summary>The key was last changed at exactly <paramref name="revision"/> (0: the key does not exist).</summary>
    public static Condition ModRevisionIs(string key, long revision) => new(key, ConditionTarget.ModRevision, ConditionOperator.Equal, revision, default);

    /// <summary>The key exists and was created at exactly <paramref name="revision"/> (a campaign's fence: re-created is not the same).</summary>
    public static Condition CreatedAt(string key, long revision) => new(key, ConditionTarget.CreateRevision, ConditionOperator.Equal, revision, default);

    /// <summary>The key does not exist.</summary>
    public static Condition Absent(string key) => new(key, ConditionTarget.CreateRevision, ConditionOperator.Equal, 0, default);

    /// <summary>The key exists.</summary>
    public static Condition Exists(string key) => new(key, ConditionTarget.CreateRevision, ConditionOperator.Greater, 0, default);

    public static Condition ValueIs(string key, ReadOnlyMemory<byte> value) => new(key, ConditionTarget.Value, ConditionOperator.Equal, 0, value);

    public static Condition ValueIs(string key, string value) => ValueIs(key, Encoding.UTF8.GetBytes(value));
}

public enum ConditionOperator
{
    Equal,
    NotEqual,
    Less,
    Greater,
}

public enum OperationKind
{
    Put,
    Delete,
    DeletePrefix,
    Get,
}

/// <summary>One operation of a transaction branch.</summary>
public sealed record Operation(OperationKind Kind, string Key, ReadOnlyMemory<byte> Value, long LeaseId)
{
    public static Operation Put(string key, ReadOnlyMemory<byte> value, long leaseId = 0) => new(OperationKind.Put, key, value, leaseId);

    public static Operation Put(string key, string value, long leaseId = 0) => Put(key, Encoding.UTF8.GetBytes(value), leaseId);

    public static Operation Delete(string key) => new(OperationKind.Delete, key, default, 0);

    public static Operation DeletePrefix(string prefix) => new(OperationKind.DeletePrefix, prefix, default, 0);

    /// <summary>Reads a key inside the transaction (its value comes back in <see cref="TransactionResult.Reads"/>).</summary>
    public static Operation Get(string key) => new(OperationKind.Get, key, default, 0);
}

/// <summary>Which branch ran, the store revision after it, and what its Get operations read (in order; null when absent).</summary>
public sealed record TransactionResult(bool Succeeded, long Revision, IReadOnlyList<StoredValue?> Reads);
