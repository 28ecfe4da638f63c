namespace NsqSharp.Client.Consuming;

/// <summary>The per-connection state the RDY controller reads and updates.</summary>
internal interface IRdyConnection
{
    string Address { get; }

    /// <summary>The RDY count last sent on this connection.</summary>
    long RdyCount { get; set; }

    /// <summary>nsqd's max_rdy_count from IDENTIFY.</summary>
    long MaxRdyCount { get; }

    /// <summary>TimeProvider timestamp of the last RDY above 0.</summary>
    long LastRdyTimestamp { get; set; }

    /// <summary>TimeProvider timestamp of the last message received.</summary>
    long LastMessageTimestamp { get; }

    /// <summary>Messages received and not yet answered.</summary>
    long InFlight { get; }

    /// <summary>Closing (CLS sent, CLOSE_WAIT received, or failed): no RDY may be sent.</summary>
    bool IsClosing { get; }

    /// <summary>Queues <c>RDY count</c> on the wire.</summary>
    void WriteRdy(long count);
}
