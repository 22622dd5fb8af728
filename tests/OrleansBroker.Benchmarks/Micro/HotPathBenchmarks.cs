using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using OrleansBroker.Log;
using OrleansBroker.Protocol;

namespace OrleansBroker.Benchmarks.Micro;

/// <summary>Builds record batches the way the benchmarks need them: N records of B bytes, no key, sealed with a producer id.</summary>
internal static class Batches
{
    public const long BaseTimestamp = 1_700_000_000_000;

    // Kafka record batch v2 field positions (RecordBatchHeader keeps its own internal).
    private const int CrcOffset = 17;
    private const int AttributesOffset = 21;
    private const int ProducerIdOffset = 43;
    private const int ProducerEpochOffset = 51;
    private const int BaseSequenceOffset = 53;

    public static byte[] Build(int records, int recordSize, long producerId = 1, short epoch = 0, int baseSequence = 0)
    {
        var builder = new RecordBatchBuilder(int.MaxValue);
        byte[] value = new byte[recordSize];
        value.AsSpan().Fill((byte)'x');
        for (int i = 0; i < records; i++)
        {
            builder.TryAppend(BaseTimestamp + i, default, keyIsNull: true, value, valueIsNull: false, null);
        }

        return producerId < 0
            ? builder.Seal(RecordBatchHeader.NoProducerId, RecordBatchHeader.NoProducerEpoch, RecordBatchHeader.NoSequence)
            : builder.Seal(producerId, epoch, baseSequence);
    }

    /// <summary>Rewrites producer id, epoch and base sequence and recomputes the CRC (what the SDK's retry re-stamp does).</summary>
    public static void Restamp(Span<byte> batch, long producerId, short epoch, int baseSequence)
    {
        BinaryPrimitives.WriteInt64BigEndian(batch[ProducerIdOffset..], producerId);
        BinaryPrimitives.WriteInt16BigEndian(batch[ProducerEpochOffset..], epoch);
        BinaryPrimitives.WriteInt32BigEndian(batch[BaseSequenceOffset..], baseSequence);
        BinaryPrimitives.WriteUInt32BigEndian(batch[CrcOffset..], Crc32C.Compute(batch[AttributesOffset..]));
    }

    public static string TempDirectory(string name)
    {
        string path = Path.Combine(Path.GetTempPath(), "obroker-bench", $"{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteDirectory(string? path)
    {
        if (path is not null && Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }
}

/// <summary>SDK side: encode N records of 100 B into a batch and seal it (header, producer id, CRC-32C, copy out).</summary>
[MemoryDiagnoser]
public class BatchEncodeBenchmarks
{
    private readonly byte[] _value = new byte[100];
    private RecordBatchBuilder _builder = null!;

    /// <summary>Records per batch.</summary>
    [Params(100, 1000)]
    public int Records { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _value.AsSpan().Fill((byte)'x');
        _builder = new RecordBatchBuilder(1 << 20);
    }

    [Benchmark]
    public byte[] EncodeAndSeal()
    {
        _builder.Reset();
        for (int i = 0; i < Records; i++)
        {
            _builder.TryAppend(Batches.BaseTimestamp + i, default, keyIsNull: true, _value, valueIsNull: false, null);
        }

        return _builder.Seal(1, 0, 0);
    }
}

/// <summary>CRC-32C over 1 MiB (the cost per batch on both sides: seal in the SDK, validate in the partition).</summary>
public class Crc32CBenchmarks
{
    private readonly byte[] _data = new byte[1 << 20];

    [GlobalSetup]
    public void Setup() => new Random(1).NextBytes(_data);

    [Benchmark]
    public uint Crc32C1MiB() => Crc32C.Compute(_data);
}

/// <summary>Partition side: header checks + CRC, with and without walking the records (a batch of 1000 × 100 B).</summary>
[MemoryDiagnoser]
public class ValidateBenchmarks
{
    private byte[] _batch = [];

    /// <summary>Also decode every record's varints (RecordBatch.Validate's validateRecords).</summary>
    [Params(false, true)]
    public bool ValidateRecords { get; set; }

    [GlobalSetup]
    public void Setup() => _batch = Batches.Build(1000, 100);

    [Benchmark]
    public BatchFormatError Validate() => RecordBatch.Validate(_batch, int.MaxValue, out _, ValidateRecords);
}

/// <summary>Partition side: the idempotence check and the state update for one batch, with 1 or 10,000 producers known.</summary>
[MemoryDiagnoser]
public class ProducerStateBenchmarks
{
    private ProducerStateManager _state = null!;
    private RecordBatchHeader[] _headers = [];
    private int[] _next = [];
    private long _offset;
    private int _producer;

    /// <summary>Producers the partition knows.</summary>
    [Params(1, 10_000)]
    public int Producers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _state = new ProducerStateManager(TimeSpan.FromDays(1), TimeProvider.System);
        RecordBatchHeader.TryRead(Batches.Build(10, 10), out RecordBatchHeader template);
        _headers = new RecordBatchHeader[Producers];
        _next = new int[Producers];
        for (int p = 0; p < Producers; p++)
        {
            _headers[p] = template with { ProducerId = 1000 + p, ProducerEpoch = 0 };
            for (int b = 0; b < 5; b++)
            {
                Append(p);
            }
        }
    }

    [Benchmark]
    public AppendCheckKind CheckAppendAndUpdate()
    {
        int p = _producer;
        _producer = p + 1 == Producers ? 0 : p + 1;
        return Append(p);
    }

    private AppendCheckKind Append(int p)
    {
        RecordBatchHeader header = _headers[p] with { BaseSequence = _next[p] };
        AppendCheck check = _state.CheckAppend(header);
        if (check.Kind != AppendCheckKind.Accept)
        {
            throw new InvalidOperationException($"Unexpected {check.Kind}.");
        }

        _state.Update(header, _offset);
        _offset += header.RecordCount;
        _next[p] = RecordBatchHeader.IncrementSequence(_next[p], header.RecordCount);
        return check.Kind;
    }
}

/// <summary>Segment append and index update: 1000 batches of 1000 × 100 B (about 105 MB) into a fresh store per iteration (page cache, no fsync).</summary>
[MemoryDiagnoser]
public class FileLogStoreAppendBenchmarks
{
    private const int BatchesPerInvoke = 1000;
    private byte[] _batch = [];
    private RecordBatchHeader _header;
    private string? _directory;
    private FileLogStore? _store;

    [GlobalSetup]
    public void Setup()
    {
        _batch = Batches.Build(1000, 100);
        RecordBatchHeader.TryRead(_batch, out _header);
    }

    [IterationSetup]
    public void OpenStore()
    {
        _directory = Batches.TempDirectory("append");
        _store = new FileLogStore(_directory, new PartitionLogOptions(), TimeProvider.System);
        _store.OpenAsync().AsTask().GetAwaiter().GetResult();
    }

    [IterationCleanup]
    public void CloseStore()
    {
        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Batches.DeleteDirectory(_directory);
    }

    [Benchmark(OperationsPerInvoke = BatchesPerInvoke)]
    public async Task AppendBatch()
    {
        FileLogStore store = _store!;
        for (int i = 0; i < BatchesPerInvoke; i++)
        {
            long offset = store.LogEndOffset;
            RecordBatch.SetBaseOffset(_batch, offset);
            await store.AppendAsync(_batch, _header with { BaseOffset = offset });
        }
    }
}

/// <summary>Fetch of a range: read up to 1 MiB of whole batches at an offset from a 100 MB log (page cache).</summary>
[MemoryDiagnoser]
public class FileLogStoreReadBenchmarks
{
    private const int BatchCount = 1000;
    private string? _directory;
    private FileLogStore? _store;
    private long[] _offsets = [];
    private int _next;

    /// <summary>maxBytes of the read.</summary>
    [Params(1 << 20)]
    public int MaxBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] batch = Batches.Build(1000, 100);
        RecordBatchHeader.TryRead(batch, out RecordBatchHeader header);
        _directory = Batches.TempDirectory("read");
        _store = new FileLogStore(_directory, new PartitionLogOptions(), TimeProvider.System);
        _store.OpenAsync().AsTask().GetAwaiter().GetResult();
        for (int i = 0; i < BatchCount; i++)
        {
            long offset = _store.LogEndOffset;
            RecordBatch.SetBaseOffset(batch, offset);
            _store.AppendAsync(batch, header with { BaseOffset = offset }).AsTask().GetAwaiter().GetResult();
        }

        // Offsets in the middle of batches, spread over the log.
        var random = new Random(7);
        _offsets = [.. Enumerable.Range(0, 64).Select(_ => (long)random.Next(0, (BatchCount - 20) * 1000))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Batches.DeleteDirectory(_directory);
    }

    [Benchmark]
    public async Task<int> ReadRange()
    {
        long offset = _offsets[_next++ & 63];
        ReadOnlyMemory<byte> bytes = await _store!.ReadAsync(offset, MaxBytes);
        return bytes.Length;
    }
}

/// <summary>
/// The partition's whole append path on the file store: validate (header, CRC, records), idempotence check, write, state update.
/// 1000 batches of 1000 × 100 B (about 105 MB) per invocation, fresh log per iteration.
/// </summary>
[MemoryDiagnoser]
public class PartitionLogAppendBenchmarks
{
    private const int BatchesPerInvoke = 1000;
    private byte[][] _batches = [];
    private string? _directory;
    private PartitionLog? _log;

    /// <summary>Batches carry a producer id (idempotent) or not.</summary>
    [Params(true, false)]
    public bool Idempotent { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _batches = new byte[BatchesPerInvoke][];
        for (int i = 0; i < BatchesPerInvoke; i++)
        {
            _batches[i] = Idempotent ? Batches.Build(1000, 100, 1, 0, i * 1000) : Batches.Build(1000, 100, -1);
        }
    }

    [IterationSetup]
    public void OpenLog()
    {
        _directory = Batches.TempDirectory("plog");
        var options = new PartitionLogOptions();
        _log = PartitionLog.OpenAsync(new FileLogStore(_directory, options, TimeProvider.System), options, TimeProvider.System).AsTask().GetAwaiter().GetResult();
    }

    [IterationCleanup]
    public void CloseLog()
    {
        _log?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Batches.DeleteDirectory(_directory);
    }

    [Benchmark(OperationsPerInvoke = BatchesPerInvoke)]
    public async Task AppendBatch()
    {
        PartitionLog log = _log!;
        for (int i = 0; i < BatchesPerInvoke; i++)
        {
            LogAppendResult result = await log.AppendAsync(_batches[i]);
            if (result.Status != AppendStatus.Appended)
            {
                throw new InvalidOperationException($"{result.Status}: {result.Message}");
            }
        }
    }
}
