using System.Diagnostics;
using System.Diagnostics.Metrics;
using NsqSharp.Common.Metrics;

namespace NsqSharp.Nsqd;

/// <summary>
/// nsqd's metrics as System.Diagnostics.Metrics instruments, observed at scrape time from the
/// live topics, channels and logs, and exposed as Prometheus text on GET /metrics.
/// </summary>
public sealed class NsqdMetrics : IDisposable
{
    public const string MeterName = "NsqSharp.Nsqd";
    private readonly NsqdServer _server;
    private readonly Meter _meter = new(MeterName);
    private readonly PrometheusExporter _exporter;

    public NsqdMetrics(NsqdServer server)
    {
        _server = server;
        _meter.CreateObservableGauge("nsqd_topic_depth", () => PerTopic(t => t.Depth), description: "Messages not yet handed to any channel");
        _meter.CreateObservableCounter("nsqd_topic_messages", () => PerTopic(t => t.MessageCount), description: "Messages published since start");
        _meter.CreateObservableCounter("nsqd_topic_message_bytes", () => PerTopic(t => t.MessageBytes), description: "Body bytes published since start");
        _meter.CreateObservableGauge("nsqd_partition_size_bytes", () => PerPartition(l => l.SizeBytes), description: "Bytes retained by a partition log");
        _meter.CreateObservableGauge("nsqd_partition_end_offset", () => PerPartition(l => l.LogEnd), description: "Durable end offset of a partition log");
        _meter.CreateObservableGauge("nsqd_partition_start_offset", () => PerPartition(l => l.StartOffset), description: "Oldest retained offset of a partition log");
        _meter.CreateObservableCounter("nsqd_partition_syncs", () => PerPartition(l => l.SyncCount), description: "fsyncs (group commits) of a partition log");
        _meter.CreateObservableCounter("nsqd_partition_corrupt_batches", () => PerPartition(l => l.CorruptBatchesSkipped), description: "Damaged batches skipped (their messages are lost; each is logged)");
        _meter.CreateObservableCounter("nsqd_partition_corrupt_messages", () => PerPartition(l => l.CorruptMessagesSkipped), description: "Messages lost in damaged batches");
        _meter.CreateObservableCounter("nsqd_partition_corrupt_headers_repaired", () => PerPartition(l => l.CorruptHeadersRepaired), description: "Damaged batch headers read around without loss (offset or length field)");
        _meter.CreateObservableGauge("nsqd_partition_high_watermark", () => PerPartition(l => l.HighWatermark), description: "Offset below which consumers read (cluster mode: what the in-sync replicas have)");
        _meter.CreateObservableGauge("nsqd_partition_in_sync_replicas", () => PerReplicatedPartition(r => r.Isr.Count), description: "Cluster mode: replicas in the partition's ISR (leader included), as this node knows it");
        _meter.CreateObservableGauge("nsqd_partition_leader", () => PerReplicatedPartition(r => r.Role == "leader" ? 1 : 0), description: "Cluster mode: 1 when this node leads the partition");
        _meter.CreateObservableGauge("nsqd_partition_leader_epoch", () => PerReplicatedPartition(r => r.LeaderEpoch), description: "Cluster mode: the partition's leader epoch");
        _meter.CreateObservableGauge("nsqd_open_segment_files", () => (long)_server.Broker.OpenSegmentFiles, description: "Segment files open now (bounded by --max-open-segments)");
        _meter.CreateObservableGauge("nsqd_channel_depth", () => PerChannel(c => c.Depth), description: "Messages waiting for a consumer");
        _meter.CreateObservableGauge("nsqd_channel_in_flight", () => PerChannel(c => c.InFlightCount), description: "Messages sent and not yet finished");
        _meter.CreateObservableGauge("nsqd_channel_deferred", () => PerChannel(c => c.DeferredCount), description: "Messages waiting for their due time");
        _meter.CreateObservableGauge("nsqd_channel_clients", () => PerChannel(c => c.Clients.Length), description: "Subscribed clients");
        _meter.CreateObservableCounter("nsqd_channel_messages", () => PerChannel(c => c.MessageCount), description: "Deliveries since start");
        _meter.CreateObservableCounter("nsqd_channel_requeued", () => PerChannel(c => c.RequeueCount), description: "REQ since start");
        _meter.CreateObservableCounter("nsqd_channel_timed_out", () => PerChannel(c => c.TimeoutCount), description: "In-flight timeouts since start");
        _meter.CreateObservableGauge("nsqd_channel_read_ahead_bytes", () => PerChannel(c => c.ReadAheadBytesNow), description: "Body bytes read ahead in memory, waiting for a consumer");
        _meter.CreateObservableCounter("nsqd_channel_fill_errors", () => PerChannel(c => c.FillErrorCount), description: "Failed reads of a channel's fill loop (each logged and retried)");
        _meter.CreateObservableCounter("nsqd_channel_checkpoints", () => PerChannel(c => c.CheckpointLockTime.Count), description: "Cursor checkpoints taken (each holds the channel lock once)");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_lock_seconds", () => PerChannelSeconds(c => c.CheckpointLockTime.SumSeconds), description: "Time the cursor checkpoints held the channel lock, in all");
        _meter.CreateObservableGauge("nsqd_channel_checkpoint_lock_last_seconds", () => PerChannelSeconds(c => c.CheckpointLockTime.LastSeconds), description: "Time the last cursor checkpoint held the channel lock");
        _meter.CreateObservableGauge("nsqd_channel_checkpoint_lock_max_seconds", () => PerChannelSeconds(c => c.CheckpointLockTime.MaxSeconds), description: "Longest time a cursor checkpoint held the channel lock since start");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_seconds", () => PerChannelSeconds(c => c.CheckpointStepTime.SumSeconds), description: "Time the cursor checkpoint steps took in all (lock, applying ops off the lock, writing, fsync)");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_ops", () => PerChannel(c => c.CheckpointOpsCount), description: "Cursor changes (ops) made durable by checkpoints");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_snapshots", () => PerChannel(c => c.CheckpointSnapshotCount), description: "Cursor snapshots written (the ops file compacted)");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_copies", () => PerChannel(c => c.Checkpointer?.Copies ?? 0), description: "Checkpoints that copied a small pending set under the lock instead of applying more ops than that");
        _meter.CreateObservableCounter("nsqd_channel_checkpoint_resyncs", () => PerChannel(c => c.Checkpointer?.Resyncs ?? 0), description: "Cursor op buffer overflows (the checkpoint then copied the live state under the lock once)");
        _meter.CreateObservableGauge("nsqd_clients", () => (long)_server.Clients.Count, description: "Connected TCP clients");
        _meter.CreateObservableGauge("process_resident_memory_bytes", () => Environment.WorkingSet, description: "Resident set size");
        _meter.CreateObservableCounter("process_cpu_seconds", () => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, description: "CPU time used");
        _exporter = new PrometheusExporter(_meter); // this broker's meter only, not another one in the same process
    }

    public string Scrape() => _exporter.Scrape();

    private IEnumerable<Measurement<long>> PerTopic(Func<Broker.Topic, long> value)
    {
        foreach (var topic in _server.Broker.Topics)
        {
            yield return new Measurement<long>(value(topic), new KeyValuePair<string, object?>("topic", topic.Name));
        }
    }

    private IEnumerable<Measurement<long>> PerPartition(Func<Storage.PartitionLog, long> value)
    {
        foreach (var topic in _server.Broker.Topics)
        {
            foreach (var log in topic.Partitions)
            {
                yield return new Measurement<long>(value(log), new KeyValuePair<string, object?>("topic", topic.Name),
                    new KeyValuePair<string, object?>("partition", log.Partition));
            }
        }
    }

    private IEnumerable<Measurement<long>> PerReplicatedPartition(Func<Cluster.PartitionReplicaInfo, long> value)
    {
        if (_server.Cluster is not { } cluster)
        {
            yield break;
        }

        foreach (var topic in _server.Broker.Topics)
        {
            foreach (var log in topic.Partitions)
            {
                if (cluster.Describe(topic.Name, log.Partition) is { } replica)
                {
                    yield return new Measurement<long>(value(replica), new KeyValuePair<string, object?>("topic", topic.Name),
                        new KeyValuePair<string, object?>("partition", log.Partition));
                }
            }
        }
    }

    private IEnumerable<Measurement<double>> PerChannelSeconds(Func<Broker.Channel, double> value)
    {
        foreach (var topic in _server.Broker.Topics)
        {
            foreach (var channel in topic.Channels)
            {
                yield return new Measurement<double>(value(channel), new KeyValuePair<string, object?>("topic", topic.Name),
                    new KeyValuePair<string, object?>("channel", channel.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> PerChannel(Func<Broker.Channel, long> value)
    {
        foreach (var topic in _server.Broker.Topics)
        {
            foreach (var channel in topic.Channels)
            {
                yield return new Measurement<long>(value(channel), new KeyValuePair<string, object?>("topic", topic.Name),
                    new KeyValuePair<string, object?>("channel", channel.Name));
            }
        }
    }

    public void Dispose()
    {
        _exporter.Dispose();
        _meter.Dispose();
    }
}
