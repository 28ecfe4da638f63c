namespace NsqSharp.Nsqd.Broker.Cursors;

/// <summary>
/// A channel's durable cursor state on disk: the snapshot (<c>.cursor</c>, <see cref="ChannelCheckpoint"/>) and the ops
/// since it (<c>.ops</c>, <see cref="CursorOpLog"/>).
/// <para>
/// Generations make every crash point safe. A snapshot names the ops generation that follows it, G; ops are appended
/// as blocks of generation G; replay applies exactly the blocks of generation G. Compaction writes a new snapshot
/// naming G' &gt; G (tmp + fsync + rename + directory fsync), then empties the ops file. Crashed before the rename: the
/// old snapshot and the ops of G, as before. After the rename but before the ops file was emptied (or before that
/// became durable): the blocks left are of G, which the new snapshot already covers, so they are ignored and no op is
/// applied twice (Deliver is not idempotent). Any other mix (a snapshot rename lost but later blocks written) also
/// applies only ops that follow the snapshot they belong to, or none: the result is always an earlier true state.
/// </para>
/// Not thread-safe: the checkpointer's gate serializes it.
/// </summary>
public sealed class CursorFiles
{
    public CursorFiles(string snapshotPath)
    {
        SnapshotPath = snapshotPath;
        OpsPath = Path.ChangeExtension(snapshotPath, ".ops");
    }

    public string SnapshotPath { get; }

    public string OpsPath { get; }

    /// <summary>The ops generation that follows the snapshot on disk (0: none known yet).</summary>
    public ulong Generation { get; private set; }

    /// <summary>Bytes of ops of <see cref="Generation"/> in the ops file (where the next append goes).</summary>
    public long OpsBytes { get; private set; }

    /// <summary>Called at each step of <see cref="WriteSnapshot"/> and <see cref="AppendOps"/> ("snapshot-written",
    /// "ops-truncated", "ops-appended"); a test throws from it to stop the sequence there, as a crash would.</summary>
    internal Action<string>? OnStep { get; set; }

    /// <summary>What <see cref="Load"/> found.</summary>
    public sealed record Loaded(CursorState? State, int SnapshotVersion, ulong Generation, CursorOpLog.ReplayResult Ops, string? Error);

    /// <summary>
    /// Reads the snapshot and replays the ops that follow it. State is null when there is no snapshot or it is
    /// unreadable (Error says why; the ops are then not applied: they mean nothing without their base).
    /// </summary>
    public Loaded Load()
    {
        ChannelCheckpoint.Snapshot? snapshot;
        try
        {
            snapshot = ChannelCheckpoint.Read(SnapshotPath);
        }
        catch (InvalidDataException e)
        {
            var scan = CursorOpLog.Replay(OpsPath, 0, null);
            Generation = scan.MaxGeneration;
            return new Loaded(null, 0, 0, scan, e.Message);
        }

        if (snapshot == null)
        {
            var scan = CursorOpLog.Replay(OpsPath, 0, null);
            Generation = scan.MaxGeneration;
            return new Loaded(null, 0, 0, scan, null);
        }

        // v1 has no ops; generation 0 is never written, so no block can match it.
        var ops = CursorOpLog.Replay(OpsPath, snapshot.OpsGeneration == 0 ? ulong.MaxValue : snapshot.OpsGeneration,
            snapshot.OpsGeneration == 0 ? null : snapshot.State);
        Generation = Math.Max(snapshot.OpsGeneration, ops.MaxGeneration);
        OpsBytes = ops.FileBytes;
        return new Loaded(snapshot.State, snapshot.Version, snapshot.OpsGeneration, ops, null);
    }

    /// <summary>True when appending to the ops file continues the snapshot on disk: a v2 snapshot whose ops file
    /// holds nothing else (otherwise the next checkpoint must write a snapshot first).</summary>
    public bool CanAppend { get; private set; }

    /// <summary>After <see cref="Load"/>: appends may continue the files as they are (nothing to compact).</summary>
    internal void AcceptLoaded(Loaded loaded)
    {
        CanAppend = loaded.State != null && loaded.SnapshotVersion >= 2 && loaded.Ops.FileBytes == 0;
        if (CanAppend)
        {
            Generation = loaded.Generation;
            OpsBytes = 0;
        }
    }

    /// <summary>Writes a snapshot of the state with a new generation, then empties the ops file.</summary>
    public void WriteSnapshot(CursorState state)
    {
        CanAppend = false;
        if (Generation == 0)
        {
            // A channel created afresh: blocks of a deleted namesake may remain; never reuse their generation.
            Generation = CursorOpLog.Replay(OpsPath, 0, null).MaxGeneration;
        }

        var next = Generation + 1;
        ChannelCheckpoint.Write(SnapshotPath, state, next);
        Generation = next;
        OnStep?.Invoke("snapshot-written");
        CursorOpLog.Truncate(OpsPath);
        OpsBytes = 0;
        CanAppend = true;
        OnStep?.Invoke("ops-truncated");
    }

    /// <summary>Appends ops that follow the snapshot (or the ops before them) and fsyncs.</summary>
    public void AppendOps(ReadOnlySpan<CursorOp> ops)
    {
        if (!CanAppend)
        {
            throw new InvalidOperationException("cursor ops appended without a snapshot to follow");
        }

        if (ops.IsEmpty)
        {
            return;
        }

        CanAppend = false; // until the write is complete: a failed one leaves a partial block that must not be followed
        OpsBytes = CursorOpLog.Append(OpsPath, OpsBytes, Generation, ops);
        CanAppend = true;
        OnStep?.Invoke("ops-appended");
    }

    /// <summary>Removes both files (channel deleted).</summary>
    public void Delete()
    {
        bool deleted = TryDelete(OpsPath) | TryDelete(SnapshotPath);
        CanAppend = false;
        if (deleted)
        {
            try
            {
                // Durably: a cursor file still there after a power loss would restore the deleted channel.
                Storage.NativeFile.FlushDirectory(Path.GetDirectoryName(SnapshotPath)!);
            }
            catch (IOException)
            {
            }
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
