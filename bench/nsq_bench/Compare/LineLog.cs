namespace NsqSharp.Bench.Compare;

/// <summary>A file of lines written from the process's output callbacks; late lines after Close are dropped.</summary>
internal sealed class LineLog(string path) : IDisposable
{
    private readonly StreamWriter _writer = new(path) { AutoFlush = true };
    private bool _closed;

    public string Path => path;

    public void Write(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_writer)
        {
            if (!_closed)
            {
                _writer.WriteLine(line);
            }
        }
    }

    public void Dispose()
    {
        lock (_writer)
        {
            _closed = true;
            _writer.Dispose();
        }
    }
}
