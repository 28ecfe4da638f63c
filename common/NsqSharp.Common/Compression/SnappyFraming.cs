namespace NsqSharp.Common.Compression;

/// <summary>
/// Constants of the Snappy framing format (framing_format.txt), with the limits golang/snappy's
/// reader enforces, since nsqd and go-nsq use golang/snappy's NewReader/NewBufferedWriter.
/// </summary>
internal static class SnappyFraming
{
    public const byte ChunkTypeCompressed = 0x00;
    public const byte ChunkTypeUncompressed = 0x01;
    public const byte ChunkTypePadding = 0xfe;
    public const byte ChunkTypeStreamIdentifier = 0xff;

    /// <summary>Chunk header: 1 type byte + 3-byte little-endian length of what follows.</summary>
    public const int ChunkHeaderSize = 4;

    public const int ChecksumSize = 4;

    /// <summary>Most uncompressed bytes one data chunk may carry.</summary>
    public const int MaxBlockSize = 65536;

    /// <summary>golang/snappy MaxEncodedLen(MaxBlockSize): 32 + n + n/6.</summary>
    public const int MaxEncodedLenOfMaxBlockSize = 32 + MaxBlockSize + (MaxBlockSize / 6);

    /// <summary>Largest data chunk body accepted by the reader (checksum + compressed block).</summary>
    public const int MaxDataChunkLength = ChecksumSize + MaxEncodedLenOfMaxBlockSize;

    /// <summary>Body of the stream identifier chunk (type 0xff, length 6).</summary>
    public static ReadOnlySpan<byte> StreamIdentifierBody => "sNaPpY"u8;

    /// <summary>
    /// The framing format stores CRCs masked, so that checksumming data that itself holds
    /// CRCs stays robust.
    /// </summary>
    public static uint MaskChecksum(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8;

    public static uint MaskedChecksum(ReadOnlySpan<byte> uncompressed) => MaskChecksum(Crc32C.Compute(uncompressed));
}
