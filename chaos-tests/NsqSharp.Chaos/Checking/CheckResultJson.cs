using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace NsqSharp.Chaos.Checking;

/// <summary>
/// The one JSON line the check prints last. The leading fields are the contract scripts read
/// (valid, acked, lost, unexpected, duplicated, recovered, faults); the rest follow, snake_case.
/// </summary>
public static class CheckResultJson
{
    /// <param name="r">The result.</param>
    /// <param name="more">Fields of the caller's appended last (a scenario run adds its name, seed and mode).</param>
    public static string Line(CheckResult r, Action<Utf8JsonWriter>? more = null)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteBoolean("valid", r.Valid);
            json.WriteNumber("acked", r.Acked);
            json.WriteNumber("lost", r.Lost);
            json.WriteNumber("unexpected", r.Unexpected);
            json.WriteNumber("duplicated", r.Duplicated);
            json.WriteNumber("recovered", r.Recovered);
            json.WriteNumber("faults", r.Faults);
            json.WriteNumber("attempted", r.Attempted);
            json.WriteNumber("dequeued", r.Dequeued);
            json.WriteNumber("order_violations", r.OrderViolations);
            json.WriteNumber("failed_but_dequeued", r.FailedButDequeued);
            json.WriteNumber("failed", r.Failed);
            json.WriteNumber("indeterminate", r.Indeterminate);
            json.WriteNumber("ordered_dequeues", r.OrderedDequeues);
            json.WriteNumber("keyed_dequeues", r.KeyedDequeues);
            json.WriteNumber("ops", r.Ops);
            json.WriteStartObject("nodes");
            foreach (var n in r.Nodes)
            {
                json.WriteStartObject(n.Node);
                json.WriteNumber("acked", n.Acked);
                json.WriteNumber("dequeued", n.Dequeued);
                json.WriteNumber("lost", n.Lost);
                json.WriteNumber("unexpected", n.Unexpected);
                json.WriteEndObject();
            }

            json.WriteEndObject();
            Strings(json, "lost_sample", r.LostSample.Select(v => v.Value));
            Strings(json, "unexpected_sample", r.UnexpectedSample.Select(v => v.Value));
            Strings(json, "duplicated_sample", r.DuplicatedSample.Select(v => v.Value));
            Strings(json, "order_violation_sample", r.OrderViolationSample.Select(v => v.ToString()));
            more?.Invoke(json);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The line for a history that could not be checked, so scripts reading the last line still get an object.</summary>
    public static string ErrorLine(string error)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteBoolean("valid", false);
            json.WriteString("error", error);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void Strings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var v in values)
        {
            json.WriteStringValue(v);
        }

        json.WriteEndArray();
    }
}
