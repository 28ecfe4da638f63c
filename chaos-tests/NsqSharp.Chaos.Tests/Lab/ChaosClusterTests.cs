using System.Text;
using NsqSharp.Chaos.Cluster;
using NsqSharp.Chaos.Lab;
using NsqSharp.Testing;
using Xunit;

namespace NsqSharp.Chaos.Tests.Lab;

/// <summary>
/// The cluster under test, in the lab (each member in its namespace, etcd too) and loopback only: it forms, a topic
/// gets a leader, a killed leader is replaced and comes back as a follower, and a node restarted on a torn log tail
/// cuts it off at a batch boundary. One class, so the two clusters never run at once on a small machine.
/// </summary>
public sealed class ChaosClusterTests
{
    private const int T = 240_000;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly string[] FastFailover = ["--cluster-lease-ttl=2s"];

    [LabClusterFact(Timeout = T)]
    public async Task StartsInTheLabAndALeaderKilledIsReplacedAndComesBack()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-cluster");
        var members = ChaosCluster.MemberNames(nodes: 3, lookupds: 2);
        await using var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = "nsqct-cluster-", Members = members, OutDir = outDir.Path });
        var access = LabNetworkAccess.Via(lab.Description.ClientNamespace);
        await using var cluster = await ChaosCluster.StartAsync(
            new ChaosClusterOptions { OutDir = outDir.Path, NsqdArgs = FastFailover }, lab.Description, access);

        Assert.Equal(LabMode.Namespaces, cluster.Mode);
        Assert.Equal(members, cluster.Members.Select(m => m.Name));
        var ownNamespace = new FileInfo("/proc/self/ns/net").LinkTarget;
        foreach (var member in cluster.Members)
        {
            Assert.Equal(lab.Member(member.Name).Address, member.Host);
            Assert.Equal(lab.Member(member.Name).Namespace, member.NetworkNamespace);
            // `ip netns exec` execs in place: the pid is the server's own, in the member's namespace.
            Assert.Equal(member.Kind switch { MemberKind.Etcd => "etcd", MemberKind.Lookupd => "nsqlookupd", _ => "nsqd" },
                File.ReadAllText($"/proc/{member.Pid}/comm").Trim());
            Assert.NotEqual(ownNamespace, new FileInfo($"/proc/{member.Pid}/ns/net").LinkTarget);
            Assert.True(ProcessResources.ListensOn(member.Pid, member.Ports[0]), $"{member} listens on {member.Ports[0]}");
            Assert.True(File.Exists(member.LogPath));
        }

        Assert.Equal("http://10.213.7.80:2379", cluster.EtcdEndpoint);
        Assert.Equal("10.213.7.11:4150", cluster["n1"].TcpAddress);
        Assert.Equal("http://10.213.7.61:4161", cluster["l1"].HttpBase);
        var controller = await cluster.ControllerAsync();
        Assert.Contains(controller, new[] { "l1", "l2" });
        var views = await cluster.ControllerViewsAsync();
        Assert.All(views, v => Assert.Equal(controller, cluster.MemberOfCandidate(v.Controller)));

        await cluster.CreateTopicAsync("orders", partitions: 1, replicas: 3, minIsr: 2);
        var leader = await cluster.WaitForLeaderAsync("orders", timeout: Bound);
        var partition = Assert.Single((await cluster.PartitionsAsync("orders"))!);
        Assert.Equal(leader, partition.Leader);
        Assert.Equal(["n1", "n2", "n3"], partition.Replicas.Order(StringComparer.Ordinal));
        await PublishAsync(cluster, leader, "orders", 5);

        // kill -9 of the leader: another replica takes over; restarted on the same address and data it follows.
        var killedPid = cluster[leader].Pid;
        cluster[leader].Kill9();
        Assert.True(cluster[leader].HasExited);
        var next = await cluster.WaitForLeaderAsync("orders", timeout: Bound, except: leader);
        Assert.NotEqual(leader, next);
        await PublishAsync(cluster, next, "orders", 5);

        await cluster[leader].RestartAsync();
        Assert.NotEqual(killedPid, cluster[leader].Pid);
        await WaitUntilAsync(async () => await cluster.RoleAsync(leader, "orders") == "follower");
        Assert.Contains("=== ", await File.ReadAllTextAsync(cluster[leader].LogPath), StringComparison.Ordinal);

        // SIGSTOP/SIGCONT reach it too.
        cluster[leader].Pause();
        Assert.True(cluster[leader].IsPaused);
        // A signal is delivered asynchronously: the state changes a moment after kill() returns.
        await WaitUntilAsync(() => Task.FromResult(ProcessState(cluster[leader].Pid) == 'T'));
        Assert.Equal('T', ProcessState(cluster[leader].Pid));
        cluster[leader].Resume();
        await WaitUntilAsync(() => Task.FromResult(ProcessState(cluster[leader].Pid) != 'T'));
        Assert.NotEqual('T', ProcessState(cluster[leader].Pid));
    }

    [LabClusterFact(Timeout = T)]
    public async Task ANodeRestartedOnATornLogTailCutsItAtABatchBoundary()
    {
        LabFactAttribute.RequireSupport();
        using var outDir = new TempDirectory("nsqct-cluster");
        await using var lab = await NetworkLab.CreateAsync(new LabOptions { Prefix = "nsqct-torn-", Members = ChaosCluster.MemberNames(3, 1), OutDir = outDir.Path });
        await using var cluster = await ChaosCluster.StartAsync(
            new ChaosClusterOptions { OutDir = outDir.Path, Lookupds = 1, NsqdArgs = FastFailover }, lab.Description,
            LabNetworkAccess.Via(lab.Description.ClientNamespace));
        await cluster.CreateTopicAsync("events", 1, 3, 2);
        var leader = await cluster.WaitForLeaderAsync("events", timeout: Bound);
        await PublishAsync(cluster, leader, "events", 20);
        var follower = cluster.Nodes.First(n => n.Name != leader);

        Assert.Throws<InvalidOperationException>(() => follower.TearLogTail("events", 0, 10)); // still running
        follower.Kill9();
        var segment = LogTailCorruption.NewestSegment(follower.DataPath!, "events", 0);
        var whole = LogTailCorruption.ReadBatches(segment);
        Assert.Equal(20, whole.Sum(b => b.RecordCount));
        var torn = follower.TearLogTail("events", 0, 10);
        Assert.Equal(torn.LengthBefore - 10, new FileInfo(segment).Length);
        Assert.Equal(19, LogTailCorruption.ReadBatches(segment).Count); // the last batch is no longer whole

        await follower.RestartAsync();
        await follower.Server.WaitForOutputAsync("bytes of torn/corrupt tail", Bound);
        await WaitUntilAsync(async () => await cluster.RoleAsync(follower.Name, "events") == "follower");
        // Recovery cut the torn batch off (a batch boundary), and the follower then copied it again from the leader.
        var after = LogTailCorruption.ReadBatches(segment);
        Assert.Equal(new FileInfo(segment).Length, after.Sum(b => (long)b.Length));
        await WaitUntilAsync(() => Task.FromResult(LogTailCorruption.ReadBatches(segment).Sum(b => b.RecordCount) == 20));
    }

    [Fact]
    public void CorruptionPrimitivesWorkOnASegmentFile()
    {
        using var data = new TempDirectory("nsqct-segment");
        var dir = LogTailCorruption.PartitionDirectory(data.Path, "t", 0);
        Directory.CreateDirectory(dir);
        Assert.Throws<FileNotFoundException>(() => LogTailCorruption.NewestSegment(data.Path, "t", 0));
        File.WriteAllBytes(Path.Combine(dir, "00000000000000000000.log"), Batch(0, 1));
        var newest = Path.Combine(dir, "00000000000000000002.log");
        File.WriteAllBytes(newest, [.. Batch(2, 1), .. Batch(3, 2)]);
        File.WriteAllBytes(Path.Combine(dir, "00000000000000000002.index"), [1, 2, 3]);

        Assert.Equal(newest, LogTailCorruption.NewestSegment(data.Path, "t", 0));
        var batches = LogTailCorruption.ReadBatches(newest);
        Assert.Equal([2L, 3L], batches.Select(b => b.BaseOffset));
        Assert.Equal([1, 2], batches.Select(b => b.RecordCount));

        var flip = LogTailCorruption.FlipBit(data.Path, "t", 0, fromEnd: 1, bit: 3);
        Assert.Equal(flip.LengthBefore, flip.LengthAfter);
        Assert.Equal(0xAA ^ 0x08, File.ReadAllBytes(newest)[^1]);

        var tear = LogTailCorruption.Tear(data.Path, "t", 0, 5);
        Assert.Equal(flip.LengthBefore - 5, tear.LengthAfter);
        Assert.Single(LogTailCorruption.ReadBatches(newest));
        Assert.Throws<ArgumentOutOfRangeException>(() => LogTailCorruption.Tear(data.Path, "t", 0, 10_000));
    }

    [EtcdFact(Timeout = T)]
    public async Task LoopbackOnlyIsTheSameClusterOn127001()
    {
        using var outDir = new TempDirectory("nsqct-cluster");
        await using var cluster = await ChaosCluster.StartAsync(
            new ChaosClusterOptions { OutDir = outDir.Path, NsqdArgs = FastFailover },
            LabDescription.LoopbackOnly("nsqct-loopback-", "test", outDir.Path));

        Assert.Equal(LabMode.Loopback, cluster.Mode);
        Assert.All(cluster.Members, m => Assert.Equal("127.0.0.1", m.Host));
        Assert.All(cluster.Members, m => Assert.Null(m.NetworkNamespace));
        Assert.Contains(await cluster.ControllerAsync(), new[] { "l1", "l2" });
        await cluster.CreateTopicAsync("orders", 1, 3, 2);
        var leader = await cluster.WaitForLeaderAsync("orders", timeout: Bound);
        cluster[leader].Kill9();
        Assert.NotEqual(leader, await cluster.WaitForLeaderAsync("orders", timeout: Bound, except: leader));
        await cluster[leader].RestartAsync();
        await WaitUntilAsync(async () => await cluster.RoleAsync(leader, "orders") == "follower");
    }

    private static async Task PublishAsync(ChaosCluster cluster, string node, string topic, int count)
    {
        for (var i = 0; i < count; i++)
        {
            using var body = new StringContent($"m{i}", Encoding.UTF8);
            using var response = await cluster.Http.PostAsync($"{cluster[node].HttpBase}/pub?topic={topic}", body);
            Assert.True(response.IsSuccessStatusCode, $"pub to {node}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>A segment batch as FORMAT.md lays it out (CRC left zero: the primitives do not check it).</summary>
    private static byte[] Batch(long baseOffset, int records)
    {
        var body = Enumerable.Repeat((byte)0xAA, 8).ToArray();
        var recordLength = 24 + body.Length;
        var batch = new byte[48 + records * recordLength];
        BitConverter.TryWriteBytes(batch.AsSpan(0), baseOffset);
        BitConverter.TryWriteBytes(batch.AsSpan(16), batch.Length);
        BitConverter.TryWriteBytes(batch.AsSpan(24), (ushort)0x514E);
        batch[26] = 1;
        BitConverter.TryWriteBytes(batch.AsSpan(28), records);
        for (var r = 0; r < records; r++)
        {
            var at = 48 + r * recordLength;
            BitConverter.TryWriteBytes(batch.AsSpan(at), recordLength);
            body.CopyTo(batch.AsSpan(at + 24));
        }

        return batch;
    }

    private static char ProcessState(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (!await condition())
        {
            await Task.Delay(100, bound.Token);
        }
    }
}
