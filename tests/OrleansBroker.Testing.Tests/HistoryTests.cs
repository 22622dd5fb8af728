namespace OrleansBroker.Testing.Tests;

public sealed class HistoryTests
{
    [Fact]
    public void RecordSent_SameIdTwice_ThrowsInvalidOperation()
    {
        var history = new History();
        history.RecordSent("p", "a", "t");

        var error = Assert.Throws<InvalidOperationException>(() => history.RecordSent("q", "a", "t"));

        Assert.Contains("'a' was already sent", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, history.SentCount);
        Assert.Empty(history.GetRecords("q"));
    }

    [Fact]
    public void RecordAcknowledged_UnknownId_ThrowsInvalidOperation()
    {
        var history = new History();

        Assert.Throws<InvalidOperationException>(() => history.RecordAcknowledged("nope", "t", 0, 0, isDuplicate: false));
        Assert.Throws<InvalidOperationException>(() => history.RecordFailed("nope", "x", possiblyPersisted: false));
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    public void RecordAcknowledged_NegativePosition_ThrowsArgumentOutOfRange(int partition, long offset)
    {
        var history = new History();
        history.RecordSent("p", "a", "t");

        Assert.Throws<ArgumentOutOfRangeException>(() => history.RecordAcknowledged("a", "t", partition, offset, isDuplicate: false));
        Assert.Equal(RecordOutcome.Pending, history.GetRecord("a")!.Value.Outcome);
    }

    [Fact]
    public void GetRecords_AfterOutcomes_ReturnsSendOrderAndFirstOutcome()
    {
        var history = new History();
        history.RecordSent("p", "a", "t", 1);
        history.RecordSent("p", "b", "t");
        history.RecordSent("p", "c", "t");
        history.RecordAcknowledged("b", "t", 2, 40, isDuplicate: true);
        history.RecordFailed("a", "TIMEOUT", possiblyPersisted: true);

        var records = history.GetRecords("p");

        Assert.Equal(["a", "b", "c"], records.Select(r => r.RecordId));
        Assert.Equal([0, 1, 2], records.Select(r => r.SendIndex));
        Assert.Equal(new SentRecord("p", "a", "t", 1, 0, RecordOutcome.Failed, null, null, null, false, "TIMEOUT", true, 0), records[0]);
        Assert.Equal(new SentRecord("p", "b", "t", null, 1, RecordOutcome.Acknowledged, "t", 2, 40, true, null, false, 0), records[1]);
        Assert.Equal(new LogPosition("t", 2, 40), records[1].AckPosition);
        Assert.Equal(RecordOutcome.Pending, records[2].Outcome);
        Assert.Null(records[2].AckPosition);
        Assert.Equal(["p"], history.Producers);
        Assert.Null(history.GetRecord("zzz"));
    }

    [Fact]
    public void RecordSent_ManyProducersInParallel_LosesNothingAndKeepsPerProducerOrder()
    {
        const int Producers = 8;
        const int PerProducer = 5_000;
        var history = new History();

        Parallel.For(0, Producers, new ParallelOptions { MaxDegreeOfParallelism = Producers }, p =>
        {
            var producer = $"p{p}";
            for (var i = 0; i < PerProducer; i++)
            {
                var id = RecordIdCodec.FormatId(producer, i);
                history.RecordSent(producer, id, "t", p % 4);
                history.RecordAcknowledged(id, "t", p % 4, (i * 2) + (p / 4), isDuplicate: false);
            }
        });

        Assert.Equal(Producers * PerProducer, history.SentCount);
        for (var p = 0; p < Producers; p++)
        {
            var records = history.GetRecords($"p{p}");
            Assert.Equal(PerProducer, records.Count);
            for (var i = 0; i < PerProducer; i++)
            {
                Assert.Equal(RecordIdCodec.FormatId($"p{p}", i), records[i].RecordId);
                Assert.Equal(i, records[i].SendIndex);
                Assert.Equal(RecordOutcome.Acknowledged, records[i].Outcome);
            }
        }

        var observed = Enumerable.Range(0, Producers).SelectMany(p => history.GetRecords($"p{p}"))
            .Select(r => new ObservedRecord("t", r.AckPartition!.Value, r.AckOffset!.Value, r.RecordId));
        var report = HistoryChecker.Check(history, observed);
        Assert.False(report.HasAnomalies, report.ToTable());
        Assert.Equal(Producers * PerProducer, report.Acknowledged);
    }

    [Fact]
    public void RecordSent_OneProducerFromManyThreads_AssignsEverySendIndexOnce()
    {
        const int Records = 20_000;
        var history = new History(Records);

        Parallel.For(0, Records, i =>
        {
            var id = RecordIdCodec.FormatId("shared", i);
            history.RecordSent("shared", id, "t");
            if (i % 2 == 0)
            {
                history.RecordAcknowledged(id, "t", 0, i, isDuplicate: false);
            }
            else
            {
                history.RecordFailed(id, "TIMEOUT", possiblyPersisted: true);
            }
        });

        var records = history.GetRecords("shared");
        Assert.Equal(Records, records.Count);
        Assert.Equal(Enumerable.Range(0, Records), records.Select(r => r.SendIndex));
        Assert.Equal(Records, records.Select(r => r.RecordId).Distinct().Count());
        var report = HistoryChecker.Check(history, []);
        Assert.Equal(Records, report.Sent);
        Assert.Equal(Records / 2, report.Acknowledged);
        Assert.Equal(Records / 2, report.Failed);
        Assert.Equal(Records / 2, report.PossiblyPersistedAbsent);
        Assert.Equal(Records / 2, report.Count(AnomalyKind.Lost));
        Assert.Equal(0, report.Count(AnomalyKind.ConflictingOutcome));
    }

    [Fact]
    public void RecordAcknowledged_RacingOutcomesForOneRecord_KeepsExactlyOneAndCountsTheRest()
    {
        var history = new History();
        history.RecordSent("p", "a", "t");

        Parallel.For(0, 64, i => history.RecordAcknowledged("a", "t", 0, i, isDuplicate: false));

        var record = history.GetRecord("a")!.Value;
        Assert.Equal(RecordOutcome.Acknowledged, record.Outcome);
        Assert.Equal(63, record.ExtraOutcomes);
        Assert.InRange(record.AckOffset!.Value, 0, 63);
    }
}
