namespace NsqSharp.Testing;

/// <summary>Finds the repository root and the built executables under artifacts/bin.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> Root = new(FindRoot);

    public static string RepoRoot => Root.Value;

    /// <summary>Path of a built executable, e.g. Executable("nsqd") → artifacts/bin/nsqd/release/nsqd.
    /// Prefers the configuration the tests were built in, falls back to the other.</summary>
    public static string Executable(string name)
    {
#if DEBUG
        string[] configs = ["debug", "release"];
#else
        string[] configs = ["release", "debug"];
#endif
        foreach (var config in configs)
        {
            var path = Path.Combine(RepoRoot, "artifacts", "bin", name, config, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException(
            $"executable '{name}' is not built; run `dotnet build NsqSharp.sln -c Release` first", name);
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "NsqSharp.sln")))
            {
                return dir.FullName;
            }

            dir = dir.Parent;
        }

        throw new DirectoryNotFoundException("NsqSharp.sln not found above " + AppContext.BaseDirectory);
    }
}
