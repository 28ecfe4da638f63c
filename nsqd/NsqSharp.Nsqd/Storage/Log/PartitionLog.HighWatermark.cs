using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using NsqSharp.Common;

namespace NsqSharp.Nsqd.Storage;

// The replicated high watermark across restarts (Kafka's replication-offset-checkpoint, per partition). Only logs whose
// HW is owned by replication keep one: standalone the HW is the log end. Written by the broker's checkpoint tick
// (when it moved) and at close; read at open, clamped to [StartOffset, LogEnd]. It may lag the true HW by one tick:
// that only makes a restarted node's consumers wait for the leader to confirm a few more offsets. It can never be
// ahead: a value is written only after the HW reached it.
public sealed partial class PartitionLog
{
    internal const string HighWatermarkFileName = "high-watermark-checkpoint";
    private const uint HighWatermarkMagic = 0x4857514E; // "NQWH" little-endian
    private readonly object _hwCheckpointLock = new();
    private long _checkpointedHighWatermark = -1;

    /// <summary>Writes the high watermark to the partition's checkpoint file if it moved since the last write (atomic,
    /// fsynced). A no-op when the HW follows the log end. Returns true when it wrote.</summary>
    public bool CheckpointHighWatermark()
    {
        if (_hwFollowsLogEnd)
        {
            return false;
        }

        lock (_hwCheckpointLock)
        {
            long hw = HighWatermark;
            if (hw == _checkpointedHighWatermark || _disposed)
            {
                return false;
            }

            Span<byte> bytes = stackalloc byte[16];
            BinaryPrimitives.WriteUInt32LittleEndian(bytes, HighWatermarkMagic);
            BinaryPrimitives.WriteInt64LittleEndian(bytes[4..], hw);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[12..], Crc32C.Compute(bytes[..12]));
            AtomicFile.WriteAllBytes(Path.Combine(_directory, HighWatermarkFileName), bytes);
            _checkpointedHighWatermark = hw;
            return true;
        }
    }

    /// <summary>The checkpointed high watermark, or null when there is none or it is unreadable (then the HW starts at
    /// the log start and the leader's fetch responses raise it again).</summary>
    internal static long? ReadHighWatermarkCheckpoint(string directory, out string? problem)
    {
        problem = null;
        string path = Path.Combine(directory, HighWatermarkFileName);
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            problem = e.Message;
            return null;
        }

        if (bytes.Length != 16 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != HighWatermarkMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)) != Crc32C.Compute(bytes.AsSpan(0, 12)))
        {
            problem = $"{path}: bad length, magic or checksum";
            return null;
        }

        long hw = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(4));
        if (hw < 0)
        {
            problem = $"{path}: negative high watermark {hw}";
            return null;
        }

        return hw;
    }

    private void CheckpointHighWatermarkAtClose()
    {
        try
        {
            CheckpointHighWatermark();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError("partition log {Directory}: cannot write the high-watermark checkpoint at close: {Error}", _directory, e.Message);
        }
    }
}
