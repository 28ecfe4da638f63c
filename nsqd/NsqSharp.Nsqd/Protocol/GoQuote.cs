using System.Globalization;
using System.Text;

namespace NsqSharp.Nsqd.Protocol;

/// <summary>
/// Go's %q (strconv.Quote) for the names upstream echoes in error strings, applied to the bytes the
/// client sent: printable runes stay as they are (UTF-8), quotes and backslashes are escaped, control
/// and other non-printable runes become \a \n \xNN \uNNNN \UNNNNNNNN, and each byte that is not valid
/// UTF-8 becomes \xNN.
/// </summary>
internal static class GoQuote
{
    /// <summary>For a name held as a byte string (see ClientConnection.Params: one char per byte).</summary>
    public static byte[] Quote(string byteString) => Quote(Encoding.Latin1.GetBytes(byteString));

    public static byte[] Quote(ReadOnlySpan<byte> value)
    {
        var output = new List<byte>(value.Length + 2) { (byte)'"' };
        Span<byte> utf8 = stackalloc byte[4];
        while (!value.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(value, out var rune, out var width);
            if (status != System.Buffers.OperationStatus.Done)
            {
                // Go's utf8.DecodeRune: an invalid sequence is consumed one byte at a time.
                Append(output, "\\x" + value[0].ToString("x2", CultureInfo.InvariantCulture));
                value = value[1..];
                continue;
            }

            value = value[width..];
            switch (rune.Value)
            {
                case '"': Append(output, "\\\""); continue;
                case '\\': Append(output, "\\\\"); continue;
            }

            if (IsPrint(rune))
            {
                var n = rune.EncodeToUtf8(utf8);
                for (var i = 0; i < n; i++)
                {
                    output.Add(utf8[i]);
                }

                continue;
            }

            switch (rune.Value)
            {
                case '\a': Append(output, "\\a"); break;
                case '\b': Append(output, "\\b"); break;
                case '\f': Append(output, "\\f"); break;
                case '\n': Append(output, "\\n"); break;
                case '\r': Append(output, "\\r"); break;
                case '\t': Append(output, "\\t"); break;
                case '\v': Append(output, "\\v"); break;
                default:
                    if (rune.Value < ' ' || rune.Value == 0x7F)
                    {
                        Append(output, "\\x" + rune.Value.ToString("x2", CultureInfo.InvariantCulture));
                    }
                    else if (rune.Value < 0x10000)
                    {
                        Append(output, "\\u" + rune.Value.ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        Append(output, "\\U" + rune.Value.ToString("x8", CultureInfo.InvariantCulture));
                    }

                    break;
            }
        }

        output.Add((byte)'"');
        return [.. output];
    }

    /// <summary>Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.</summary>
    private static bool IsPrint(Rune rune)
    {
        if (rune.Value == ' ')
        {
            return true;
        }

        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter or
                UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => true,
            UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark => true,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
            UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or
                UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or
                UnicodeCategory.OtherPunctuation => true,
            UnicodeCategory.MathSymbol or UnicodeCategory.CurrencySymbol or UnicodeCategory.ModifierSymbol or UnicodeCategory.OtherSymbol => true,
            _ => false,
        };
    }

    private static void Append(List<byte> output, string ascii)
    {
        foreach (var c in ascii)
        {
            output.Add((byte)c);
        }
    }
}
