using System.Collections.Concurrent;
using System.Diagnostics;
using NsqSharp.Testing;

namespace NsqSharp.Chaos.Lab;

/// <summary>One command the lab ran: for the report and for debugging a lab that did not come up.</summary>
public sealed record LabCommand(DateTimeOffset At, string Command, int ExitCode, string Output, TimeSpan Took)
{
    public override string ToString() =>
        $"{At:HH:mm:ss.fff} [{ExitCode}] {Command}" + (Output.Length == 0 ? "" : " -> " + Output.Trim().ReplaceLineEndings(" | "));
}

/// <summary>A command of the lab's failed.</summary>
public sealed class LabCommandException(LabCommand command)
    : InvalidOperationException($"lab command failed with exit code {command.ExitCode}: {command.Command}\n{command.Output}")
{
    public LabCommand Command { get; } = command;
}

/// <summary>
/// Runs the lab's commands (ip, iptables, tc), each bounded, and records every one of them, in order, with its exit
/// code and output; optionally also appended to a file as it happens.
/// </summary>
public sealed class LabShell
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly ConcurrentQueue<LabCommand> _commands = new();
    private readonly object _fileGate = new();

    /// <param name="logFile">A file every command is appended to as it completes, or null.</param>
    public LabShell(string? logFile = null)
    {
        LogFile = logFile;
    }

    public string? LogFile { get; }

    /// <summary>Every command run so far, in order of completion.</summary>
    public IReadOnlyList<LabCommand> Commands => [.. _commands];

    /// <summary>Runs the command and throws <see cref="LabCommandException"/> unless it exits 0.</summary>
    public async Task<LabCommand> RunAsync(string file, params string[] args)
    {
        var command = await TryRunAsync(file, args).ConfigureAwait(false);
        return command.ExitCode == 0 ? command : throw new LabCommandException(command);
    }

    /// <summary>Runs the command and returns it whatever its exit code; with stdin, that is written to it first.</summary>
    public async Task<LabCommand> TryRunAsync(string file, IReadOnlyList<string> args, string? stdin = null)
    {
        var text = string.Join(' ', [file, .. args.Select(Quote)]);
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        int exitCode;
        string output;
        try
        {
            using var process = ManagedProcess.Start(file, args);
            if (stdin != null)
            {
                await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
            }

            process.StandardInput.Close();
            await process.WaitForExitAsync(Bound).ConfigureAwait(false);
            exitCode = process.ExitCode;
            output = process.Output;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or TimeoutException or IOException)
        {
            exitCode = -1;
            output = e.Message;
        }

        var command = new LabCommand(started, stdin == null ? text : $"{text} <<< {stdin.ReplaceLineEndings("\\n")}", exitCode, output, clock.Elapsed);
        Record(command);
        return command;
    }

    /// <summary>Adds a line of the lab's own (a decision, not a command) to the record.</summary>
    public void Note(string text) => Record(new LabCommand(DateTimeOffset.UtcNow, "# " + text, 0, "", TimeSpan.Zero));

    private void Record(LabCommand command)
    {
        _commands.Enqueue(command);
        if (LogFile != null)
        {
            lock (_fileGate)
            {
                File.AppendAllText(LogFile, command + "\n");
            }
        }
    }

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,%+@".Contains(c, StringComparison.Ordinal)) ? arg : $"'{arg.Replace("'", "'\\''", StringComparison.Ordinal)}'";
}
