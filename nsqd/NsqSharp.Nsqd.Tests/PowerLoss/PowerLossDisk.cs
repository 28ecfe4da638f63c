using System.Diagnostics;
using System.Text;

namespace NsqSharp.Nsqd.Tests.PowerLoss;

/// <summary>
/// A mount of powerloss_fs.py (see there for the model): a directory that behaves like a disk with a volatile write
/// cache. What is not fsynced (file contents, and directory entries until their directory is fsynced) is dropped by
/// <see cref="CutPower"/>; the durable state is always <see cref="DurableTree"/> under the backing directory, and the
/// next mount of the same backing directory starts from it. Dispose unmounts (kill nsqd first: a busy mount is only
/// detached lazily), and never leaves a mount behind: if the filesystem process does not exit, it is killed and the
/// mount point lazily unmounted.
/// </summary>
internal sealed class PowerLossDisk : IDisposable
{

    // Debian's interpreter: python3-fusepy installs into its dist-packages (a pyenv python3 on PATH would not see it).
    private const string Python = "/usr/bin/python3";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);

    private readonly Process _process;
    private readonly StringBuilder _errors = new();

    private PowerLossDisk(Process process, string backing, string mountPoint)
    {
        _process = process;
        Backing = backing;
        MountPoint = mountPoint;
    }

    public string Backing { get; }

    public string MountPoint { get; }

    /// <summary>What would be found after a power cut now: a plain directory tree.</summary>
    public string DurableTree => Path.Combine(Backing, "tree");

    /// <summary>What the filesystem process wrote to stderr (its errors, if any).</summary>
    public string Errors
    {
        get
        {
            lock (_errors)
            {
                return _errors.ToString();
            }
        }
    }

    private static string Script => Path.Combine(AppContext.BaseDirectory, "PowerLoss", "powerloss_fs.py");

    /// <summary>Why this machine cannot run the power-loss tests, or null when it can.</summary>
    public static string? Unavailable() => Unavailability.Value;

    private static readonly Lazy<string?> Unavailability = new(Check);

    private static string? Check()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "the power-loss tests need Linux (FUSE)";
        }

        if (Environment.UserName != "root")
        {
            return $"the power-loss tests mount a FUSE filesystem and must run as root (running as {Environment.UserName})";
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing (no FUSE in this kernel or container)";
        }

        if (!File.Exists(Python))
        {
            return $"{Python} is missing (apt-get install python3-fusepy)";
        }

        var check = Process.Start(new ProcessStartInfo(Python, ["-c", "import fusepy"]) { RedirectStandardError = true, UseShellExecute = false })!;
        string stderr = check.StandardError.ReadToEnd();
        check.WaitForExit();
        return check.ExitCode == 0 ? null : $"python3-fusepy is not installed (apt-get install python3-fusepy): {stderr.Trim()}";
    }

    /// <summary>Mounts <paramref name="backing"/> (created if need be) at <paramref name="mountPoint"/>.</summary>
    public static PowerLossDisk Mount(string backing, string mountPoint)
    {
        Directory.CreateDirectory(backing);
        Directory.CreateDirectory(mountPoint);
        if (IsMounted(mountPoint))
        {
            throw new InvalidOperationException($"{mountPoint} is already a mount point");
        }

        var psi = new ProcessStartInfo(Python, [Script, backing, mountPoint])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(psi)!;
        var disk = new PowerLossDisk(process, backing, mountPoint);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data != null)
            {
                lock (disk._errors)
                {
                    disk._errors.AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        try
        {
            string? ready = disk.ReadLine();
            if (ready != "ready" || !IsMounted(mountPoint))
            {
                throw new InvalidOperationException($"powerloss_fs did not mount {mountPoint} (said {ready ?? "nothing"}): {disk.Errors}");
            }

            return disk;
        }
        catch
        {
            disk.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Power cut: everything not yet durable is dropped and every later operation on the mount fails with EIO (the
    /// machine is off). Returns the filesystem's account of what was pending ("cut dirty_files=.. dirty_pages=..
    /// dirty_dirs=..").
    /// </summary>
    public string CutPower()
    {
        _process.StandardInput.WriteLine("cut");
        _process.StandardInput.Flush();
        string? answer = ReadLine();
        if (answer is null || !answer.StartsWith("cut ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"powerloss_fs did not confirm the power cut (said {answer ?? "nothing"}): {Errors}");
        }

        return answer;
    }

    /// <summary>Pages dropped by a cut, from its answer.</summary>
    public static int DirtyPages(string cutAnswer) =>
        int.Parse(cutAnswer.Split(' ').Single(p => p.StartsWith("dirty_pages=", StringComparison.Ordinal))["dirty_pages=".Length..],
            System.Globalization.CultureInfo.InvariantCulture);

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.WriteLine("exit");
                _process.StandardInput.Close();
            }
        }
        catch (IOException)
        {
        }

        if (!_process.WaitForExit(10_000))
        {
            _process.Kill();
            _process.WaitForExit(5_000);
        }

        if (IsMounted(MountPoint))
        {
            using var umount = Process.Start(new ProcessStartInfo("umount", ["-l", MountPoint]) { UseShellExecute = false })!;
            umount.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private string? ReadLine()
    {
        Task<string?> line = _process.StandardOutput.ReadLineAsync();
        if (!line.Wait(CommandTimeout))
        {
            throw new TimeoutException($"powerloss_fs did not answer within {CommandTimeout}: {Errors}");
        }

        return line.Result;
    }

    private static bool IsMounted(string mountPoint)
    {
        string full = Path.GetFullPath(mountPoint).TrimEnd('/');
        foreach (string line in File.ReadLines("/proc/self/mounts"))
        {
            string[] fields = line.Split(' ');
            if (fields.Length > 1 && fields[1].Replace("\\040", " ", StringComparison.Ordinal) == full)
            {
                return true;
            }
        }

        return false;
    }
}
