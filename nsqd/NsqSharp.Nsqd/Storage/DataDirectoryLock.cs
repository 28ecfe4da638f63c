using Microsoft.Win32.SafeHandles;

namespace NsqSharp.Nsqd.Storage;

/// <summary>
/// Exclusive ownership of a data directory by one process (upstream nsqd locks its data path too): an advisory
/// lock on <c>&lt;data-path&gt;/.lock</c>, one file descriptor for the whole node, released on dispose or when the
/// process dies (so a kill -9 never leaves a stale lock behind). Partition logs rely on it and hold no locks.
/// </summary>
public sealed class DataDirectoryLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly SafeFileHandle _handle;

    private DataDirectoryLock(string path, SafeFileHandle handle)
    {
        Path = path;
        _handle = handle;
    }

    /// <summary>The lock file.</summary>
    public string Path { get; }

    /// <summary>Creates the directory if needed and locks it; IOException if another process (or another lock
    /// in this process) holds it.</summary>
    public static DataDirectoryLock Acquire(string dataPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataPath);
        string directory = System.IO.Path.GetFullPath(dataPath);
        NativeFile.CreateDirectory(directory);
        string path = System.IO.Path.Combine(directory, FileName);
        var inUse = new IOException($"--data-path={directory} in use (possibly by another instance of nsqd)");
        SafeFileHandle handle;
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                throw inUse;
            }

            return new DataDirectoryLock(path, handle);
        }

        // flock directly rather than FileShare.None, which .NET lets DOTNET_SYSTEM_IO_DISABLEFILELOCKING turn off.
        handle = NativeFile.OpenUnlocked(path);
        try
        {
            if (!NativeFile.TryLockExclusive(handle))
            {
                throw inUse;
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        return new DataDirectoryLock(path, handle);
    }

    public void Dispose() => _handle.Dispose();
}
