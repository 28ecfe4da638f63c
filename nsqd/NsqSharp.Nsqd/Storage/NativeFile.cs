using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// The few durability primitives .NET does not expose directly: fdatasync on a file and fsync on a directory
/// (needed after create/rename/unlink so the directory entry itself survives a power loss); plus a full pread.
/// </summary>
internal static partial class NativeFile
{
    private const int EINTR = 4;
    private const int EWOULDBLOCK = 11; // EAGAIN on Linux
    private const int LOCK_EX = 2;
    private const int LOCK_NB = 4;
    private const int O_RDONLY = 0;
    private const int O_RDWR = 2;
    private const int O_CREAT = 0x40; // Linux value
    private const int Mode0644 = 0x1A4;
    private const int O_DIRECTORY = 0x10000; // Linux x86-64/arm64 value
    private const int O_CLOEXEC = 0x80000;

    /// <summary>Flushes file data (and the metadata needed to read it back, such as its size) to stable storage.</summary>
    public static void FlushData(SafeFileHandle handle)
    {
        if (OperatingSystem.IsLinux())
        {
            while (true)
            {
                if (FdataSync(handle) == 0)
                {
                    return;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                }
            }
        }

        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or end of file (pread); returns bytes read.</summary>
    public static int ReadFully(SafeFileHandle handle, Span<byte> buffer, long position)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer[total..], position + total);
            if (n <= 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    /// <summary>fsyncs a directory so entries created, renamed or removed in it are durable. No-op off Linux.</summary>
    public static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open({directory}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        try
        {
            while (FsyncFd(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR)
                {
                    throw new IOException($"fsync({directory}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                }
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Directory.CreateDirectory, durably: the entry of every directory it creates is fsynced into that directory's
    /// parent. A new directory is an entry in its parent like a new file: until the parent is fsynced a power loss can
    /// take it, and with it everything written under it, fsynced or not. Costs nothing when the directory exists.
    /// </summary>
    public static void CreateDirectory(string directory)
    {
        var missing = new List<string>();
        for (string? d = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)); d is not null && !Directory.Exists(d); d = Path.GetDirectoryName(d))
        {
            missing.Add(d);
        }

        if (missing.Count == 0)
        {
            return;
        }

        Directory.CreateDirectory(directory);
        foreach (string created in missing)
        {
            if (Path.GetDirectoryName(created) is { } parent)
            {
                FlushDirectory(parent);
            }
        }
    }

    /// <summary>Deletes a directory and everything in it, then fsyncs its parent so the deletion survives a power loss.</summary>
    public static void DeleteDirectory(string directory)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        Directory.Delete(full, recursive: true);
        if (Path.GetDirectoryName(full) is { } parent)
        {
            FlushDirectory(parent);
        }
    }

    /// <summary>
    /// open(O_RDWR | O_CREAT) without .NET's own advisory locking (File.OpenHandle takes a shared flock for any
    /// FileShare but None, which would make a second opener fail before it can even try the exclusive lock).
    /// </summary>
    public static SafeFileHandle OpenUnlocked(string path)
    {
        int fd = OpenMode(path, O_RDWR | O_CREAT | O_CLOEXEC, Mode0644);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"open({path}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>
    /// flock(LOCK_EX | LOCK_NB): true if this open file now holds the exclusive advisory lock, false if another
    /// open file (this process or another) holds it. Released when the handle closes, or when the process dies.
    /// </summary>
    public static bool TryLockExclusive(SafeFileHandle handle)
    {
        while (true)
        {
            if (Flock(handle, LOCK_EX | LOCK_NB) == 0)
            {
                return true;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == EWOULDBLOCK)
            {
                return false;
            }

            if (errno != EINTR)
            {
                throw new IOException($"flock failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenMode(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
