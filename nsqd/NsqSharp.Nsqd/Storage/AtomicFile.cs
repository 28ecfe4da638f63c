namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Crash-safe whole-file replacement: write a temp file next to the target, fsync it, rename it over the
/// target, fsync the directory. After a crash a reader sees either the old or the new content, never a mix.
/// Temp files are named <c>&lt;name&gt;.&lt;n&gt;.tmp</c>; <see cref="PartitionLog.Open"/> removes leftovers in its directory.
/// </summary>
public static class AtomicFile
{
    private static long s_sequence;

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? throw new ArgumentException("path has no directory", nameof(path));
        string temp = $"{full}.{Environment.ProcessId}-{Interlocked.Increment(ref s_sequence)}.tmp";
        try
        {
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, data, 0);
                NativeFile.FlushData(handle);
            }

            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        NativeFile.FlushDirectory(directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
