using Microsoft.AspNetCore.Routing;

namespace NsqSharp.Common.Http;

/// <summary>
/// An httprouter path pattern: literal segments, ":name" for one non-empty segment and a final "*name" for
/// the rest of the path (its value starts with '/'). "/config/:opt" matches "/config/log_level" but neither
/// "/config/" nor "/config/a/b"; "/static/*file" matches "/static/" (file "/") and "/static/a/b" (file "/a/b").
/// </summary>
internal sealed class RoutePattern
{
    private readonly string[] _segments;

    public RoutePattern(string pattern)
    {
        if (pattern.Length == 0 || pattern[0] != '/')
        {
            throw new ArgumentException($"path must begin with '/' in path '{pattern}'", nameof(pattern));
        }

        Text = pattern;
        _segments = pattern[1..].Split('/');
        for (var i = 0; i < _segments.Length; i++)
        {
            var segment = _segments[i];
            if (segment.StartsWith('*') && i != _segments.Length - 1)
            {
                throw new ArgumentException($"catch-all routes are only allowed at the end of the path in path '{pattern}'", nameof(pattern));
            }

            if ((segment.StartsWith(':') || segment.StartsWith('*')) && segment.Length == 1)
            {
                throw new ArgumentException($"wildcards must be named with a non-empty name in path '{pattern}'", nameof(pattern));
            }
        }

        IsLiteral = Array.TrueForAll(_segments, s => !s.StartsWith(':') && !s.StartsWith('*'));
    }

    public string Text { get; }

    /// <summary>No parameters: matched exactly by its text.</summary>
    public bool IsLiteral { get; }

    /// <summary>
    /// Matches a path; literal segments compare ordinally, or ignoring case for RedirectFixedPath. Returns the
    /// path with the pattern's own spelling of the literal segments (parameter values as the request had them),
    /// and fills values with the parameters when given.
    /// </summary>
    public string? Match(string path, bool ignoreCase, RouteValueDictionary? values = null)
    {
        if (path.Length == 0 || path[0] != '/')
        {
            return null;
        }

        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var matched = new System.Text.StringBuilder(path.Length);
        var position = 1; // just after a '/'
        for (var i = 0; i < _segments.Length; i++)
        {
            var segment = _segments[i];
            if (segment.StartsWith('*'))
            {
                var rest = path[(position - 1)..];
                values?.Add(segment[1..], rest);
                matched.Append(rest);
                return matched.ToString();
            }

            if (position > path.Length)
            {
                return null; // the path ran out of segments
            }

            var end = path.IndexOf('/', position);
            var last = i == _segments.Length - 1;
            if (end < 0)
            {
                end = path.Length;
            }
            else if (last)
            {
                return null; // the path has more segments
            }

            var value = path[position..end];
            if (segment.StartsWith(':'))
            {
                if (value.Length == 0)
                {
                    return null;
                }

                values?.Add(segment[1..], value);
                matched.Append('/').Append(value);
            }
            else if (string.Equals(segment, value, comparison))
            {
                matched.Append('/').Append(segment);
            }
            else
            {
                return null;
            }

            if (!last && end == path.Length)
            {
                return null; // the pattern has more segments
            }

            position = end + 1;
        }

        return matched.ToString();
    }
}
