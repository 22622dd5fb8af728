namespace OrleansBroker.Testing.Tests;

public sealed class HistoryCheckerTests
{
    private const string Topic = "t";

    [Fact]
    public void Check_AcknowledgedRecordAbsent_ReportsLostOnce()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);
        SendAndAck(history, "p", "b", 0, 1);
        SendAndAck(history, "p", "c", 0, 2);

        var report = HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 2, "c")]);

        Assert.Equal(1, report.Count(AnomalyKind.Lost));
        Assert.Equal(1, report.TotalAnomalies);
        var example = Assert.Single(report.Examples(AnomalyKind.Lost));
        Assert.Equal("b", example.RecordId);
        Assert.Equal(new LogPosition(Topic, 0, 1), example.Position);
        Assert.Equal("acknowledged at t/0@1 but not in the log; t/0@1 is empty", example.Detail);
        Assert.Equal(3, report.Acknowledged);
        Assert.Equal(2, report.Observed);
    }

    [Fact]
    public void Check_AcknowledgedOffsetHoldsPhantom_ReportsLostAndPhantom()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);

        var report = HistoryChecker.Check(history, [At(0, 0, null)]);

        Assert.Equal(1, report.Count(AnomalyKind.Lost));
        Assert.Equal(1, report.Count(AnomalyKind.Phantom));
        Assert.Equal(2, report.TotalAnomalies);
        Assert.Equal("acknowledged at t/0@0 but not in the log; t/0@0 holds a record without a parsable id", report.Examples(AnomalyKind.Lost)[0].Detail);
    }

    [Fact]
    public void Check_RecordStoredThreeAndTwoTimes_CountsThreeExtraCopies()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);
        SendAndAck(history, "p", "b", 0, 1);

        var report = HistoryChecker.Check(
            history,
            [At(0, 0, "a"), At(0, 1, "b"), At(0, 2, "a"), At(0, 3, "a"), At(0, 4, "b")]);

        Assert.Equal(3, report.Count(AnomalyKind.Duplicate));
        Assert.Equal(3, report.TotalAnomalies);
        Assert.Collection(
            report.Examples(AnomalyKind.Duplicate),
            e =>
            {
                Assert.Equal("a", e.RecordId);
                Assert.Equal(new LogPosition(Topic, 0, 0), e.Position);
                Assert.Equal("stored 3 times: t/0@0, t/0@2, t/0@3", e.Detail);
            },
            e =>
            {
                Assert.Equal("b", e.RecordId);
                Assert.Equal("stored 2 times: t/0@1, t/0@4", e.Detail);
            });
    }

    [Fact]
    public void Check_LastSentStoredFirst_ReportsOneReordered()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 1);
        SendAndAck(history, "p", "b", 0, 2);
        SendAndAck(history, "p", "c", 0, 0);

        var report = HistoryChecker.Check(history, [At(0, 0, "c"), At(0, 1, "a"), At(0, 2, "b")]);

        Assert.Equal(1, report.Count(AnomalyKind.Reordered));
        Assert.Equal(1, report.TotalAnomalies);
        var example = Assert.Single(report.Examples(AnomalyKind.Reordered));
        Assert.Equal("c", example.RecordId);
        Assert.Equal(new LogPosition(Topic, 0, 0), example.Position);
        Assert.Equal("stored before b (sent earlier by p) at offset 2", example.Detail);
    }

    [Fact]
    public void Check_ThreeRecordsStoredReversed_ReportsTwoReordered()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 2);
        SendAndAck(history, "p", "b", 0, 1);
        SendAndAck(history, "p", "c", 0, 0);

        var report = HistoryChecker.Check(history, [At(0, 0, "c"), At(0, 1, "b"), At(0, 2, "a")]);

        Assert.Equal(2, report.Count(AnomalyKind.Reordered));
        Assert.Equal(["b", "c"], report.Examples(AnomalyKind.Reordered).Select(e => e.RecordId));
    }

    [Fact]
    public void Check_ProducersInterleavedAndPartitionsIndependent_ReportsNoReordering()
    {
        var history = new History();
        // p1 sends x0 to partition 0 then x1 to partition 1; partition 1 is at a lower offset: not an inversion.
        SendAndAck(history, "p1", "x0", 0, 5);
        SendAndAck(history, "p1", "x1", 1, 0);
        // p2 sent its records after p1's, yet sits below them in partition 0: other producer, not an inversion.
        SendAndAck(history, "p2", "y0", 0, 0);
        SendAndAck(history, "p2", "y1", 0, 6);

        var report = HistoryChecker.Check(history, [At(0, 0, "y0"), At(0, 5, "x0"), At(0, 6, "y1"), At(1, 0, "x1")]);

        Assert.False(report.HasAnomalies, report.ToTable());
    }

    [Fact]
    public void Check_DuplicateCopyBelowLaterRecord_UsesLowestCopyForOrder()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);
        SendAndAck(history, "p", "b", 0, 1);

        var report = HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 1, "b"), At(0, 2, "a")]);

        Assert.Equal(1, report.Count(AnomalyKind.Duplicate));
        Assert.Equal(0, report.Count(AnomalyKind.Reordered));
    }

    [Fact]
    public void Check_UnknownAndUnparsableIds_ReportsOnePhantomEach()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);

        var report = HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 1, "zzz"), At(1, 0, null)]);

        Assert.Equal(2, report.Count(AnomalyKind.Phantom));
        Assert.Equal(2, report.TotalAnomalies);
        Assert.Collection(
            report.Examples(AnomalyKind.Phantom),
            e =>
            {
                Assert.Equal("zzz", e.RecordId);
                Assert.Equal(new LogPosition(Topic, 0, 1), e.Position);
                Assert.Equal("stored but never sent", e.Detail);
            },
            e =>
            {
                Assert.Null(e.RecordId);
                Assert.Equal(new LogPosition(Topic, 1, 0), e.Position);
                Assert.Equal("stored record whose id could not be parsed", e.Detail);
            });
    }

    [Fact]
    public void Check_AcknowledgedOffsetHoldsAnotherRecord_ReportsWrongOffset()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);
        SendAndAck(history, "p", "b", 0, 0);

        var report = HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 1, "b")]);

        Assert.Equal(1, report.Count(AnomalyKind.WrongOffset));
        Assert.Equal(1, report.TotalAnomalies);
        var example = Assert.Single(report.Examples(AnomalyKind.WrongOffset));
        Assert.Equal("b", example.RecordId);
        Assert.Equal(new LogPosition(Topic, 0, 0), example.Position);
        Assert.Equal("acknowledged at t/0@0, which holds a; stored at t/0@1", example.Detail);
    }

    [Fact]
    public void Check_StoredInOtherPartitionThanAcknowledged_ReportsWrongOffsetNotLost()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 3);

        var report = HistoryChecker.Check(history, [At(1, 3, "a")]);

        Assert.Equal(1, report.Count(AnomalyKind.WrongOffset));
        Assert.Equal(0, report.Count(AnomalyKind.Lost));
        Assert.Equal("acknowledged at t/0@3, which is empty; stored at t/1@3", report.Examples(AnomalyKind.WrongOffset)[0].Detail);
    }

    [Fact]
    public void Check_FailedRecords_SplitsFailedButStoredFromPossiblyPersisted()
    {
        var history = new History();
        Send(history, "p", "rejected-stored");
        Send(history, "p", "timeout-stored");
        Send(history, "p", "timeout-absent");
        Send(history, "p", "rejected-absent");
        history.RecordFailed("rejected-stored", "INVALID_RECORD", possiblyPersisted: false);
        history.RecordFailed("timeout-stored", "REQUEST_TIMED_OUT", possiblyPersisted: true);
        history.RecordFailed("timeout-absent", "REQUEST_TIMED_OUT", possiblyPersisted: true);
        history.RecordFailed("rejected-absent", "INVALID_RECORD", possiblyPersisted: false);

        var report = HistoryChecker.Check(history, [At(0, 0, "rejected-stored"), At(0, 1, "timeout-stored")]);

        Assert.Equal(1, report.Count(AnomalyKind.FailedButStored));
        Assert.Equal(1, report.TotalAnomalies);
        Assert.Equal(4, report.Failed);
        Assert.Equal(1, report.PossiblyPersistedStored);
        Assert.Equal(1, report.PossiblyPersistedAbsent);
        Assert.Equal(0, report.Acknowledged);
        var example = Assert.Single(report.Examples(AnomalyKind.FailedButStored));
        Assert.Equal("rejected-stored", example.RecordId);
        Assert.Equal(new LogPosition(Topic, 0, 0), example.Position);
        Assert.Equal("failed for good (INVALID_RECORD) but stored at t/0@0", example.Detail);
    }

    [Fact]
    public void Check_PossiblyPersistedStoredOnly_HasNoAnomalies()
    {
        var history = new History();
        Send(history, "p", "a");
        history.RecordFailed("a", "REQUEST_TIMED_OUT", possiblyPersisted: true);

        var report = HistoryChecker.Check(history, [At(0, 0, "a")]);

        Assert.False(report.HasAnomalies);
        Assert.Equal(1, report.PossiblyPersistedStored);
        Assert.Equal(0, report.PossiblyPersistedAbsent);
    }

    [Fact]
    public void Check_SentWithoutOutcome_ReportsUnresolvedStoredOrNot()
    {
        var history = new History();
        history.RecordSent("p", "absent", Topic, 2);
        history.RecordSent("p", "stored", Topic);

        var report = HistoryChecker.Check(history, [At(1, 7, "stored")]);

        Assert.Equal(2, report.Count(AnomalyKind.Unresolved));
        Assert.Equal(2, report.TotalAnomalies);
        Assert.Equal(2, report.Sent);
        Assert.Collection(
            report.Examples(AnomalyKind.Unresolved),
            e =>
            {
                Assert.Equal("absent", e.RecordId);
                Assert.Null(e.Position);
                Assert.Equal("sent by p to t/2, no outcome recorded; not in the log", e.Detail);
            },
            e =>
            {
                Assert.Equal("stored", e.RecordId);
                Assert.Equal(new LogPosition(Topic, 1, 7), e.Position);
                Assert.Equal("sent by p to t, no outcome recorded; stored at t/1@7", e.Detail);
            });
    }

    [Fact]
    public void Check_SecondOutcome_ReportsConflictingOutcomeAndChecksTheFirst()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);
        history.RecordAcknowledged("a", Topic, 0, 9, isDuplicate: true);
        SendAndAck(history, "p", "b", 0, 1);
        history.RecordFailed("b", "NETWORK_EXCEPTION", possiblyPersisted: true);

        var report = HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 1, "b")]);

        Assert.Equal(2, report.Count(AnomalyKind.ConflictingOutcome));
        Assert.Equal(2, report.TotalAnomalies);
        Assert.Equal(2, report.Acknowledged);
        Assert.Equal(0, report.DuplicatesAcknowledged);
        Assert.Equal(0, report.Failed);
        Assert.Equal(
            "first acknowledged at t/0@0; then 1 more outcome(s), first: acknowledged at t/0@9 (duplicate)",
            report.Examples(AnomalyKind.ConflictingOutcome)[0].Detail);
        Assert.Equal(
            "first acknowledged at t/0@1; then 1 more outcome(s), first: failed (NETWORK_EXCEPTION) possibly persisted",
            report.Examples(AnomalyKind.ConflictingOutcome)[1].Detail);
    }

    [Fact]
    public void Check_CleanRunOf10000RecordsAcross3ProducersAnd4Partitions_HasNoAnomalies()
    {
        var history = new History(10_000);
        var observed = new List<ObservedRecord>();
        var nextOffset = new long[4];
        var duplicateAcks = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var producer = $"p{i % 3}";
            var sequence = i / 3;
            var partition = (sequence + (i % 3)) % 4;
            var id = RecordIdCodec.FormatId(producer, sequence);
            history.RecordSent(producer, id, "orders", i % 2 == 0 ? partition : null);
            var offset = nextOffset[partition]++;
            var duplicate = i % 100 == 0;
            duplicateAcks += duplicate ? 1 : 0;
            history.RecordAcknowledged(id, "orders", partition, offset, duplicate);
            observed.Add(new ObservedRecord("orders", partition, offset, id));
        }

        var report = HistoryChecker.Check(history, observed);

        Assert.False(report.HasAnomalies, report.ToTable());
        Assert.Equal(0, report.TotalAnomalies);
        Assert.Equal(10_000, report.Sent);
        Assert.Equal(10_000, report.Acknowledged);
        Assert.Equal(100, duplicateAcks);
        Assert.Equal(100, report.DuplicatesAcknowledged);
        Assert.Equal(10_000, report.Observed);
        Assert.Equal(0, report.ExitCode);
        Assert.All(report.Anomalies, a => Assert.Empty(a.Examples));
    }

    [Fact]
    public void Check_ManyAnomaliesOfOneKind_KeepsOnlyFirstExamplesInSendOrder()
    {
        var history = new History();
        for (var i = 0; i < 10; i++)
        {
            SendAndAck(history, "p", $"r{i}", 0, i);
        }

        var report = HistoryChecker.Check(history, [], maxExamples: 3);

        Assert.Equal(10, report.Count(AnomalyKind.Lost));
        Assert.Equal(["r0", "r1", "r2"], report.Examples(AnomalyKind.Lost).Select(e => e.RecordId));
        Assert.Equal(1, report.ExitCode);
    }

    [Fact]
    public void Check_TwoObservedRecordsAtOnePosition_ThrowsArgumentException()
    {
        var history = new History();
        SendAndAck(history, "p", "a", 0, 0);

        var error = Assert.Throws<ArgumentException>(() => HistoryChecker.Check(history, [At(0, 0, "a"), At(0, 0, "b")]));

        Assert.Contains("Two observed records claim t/0@0", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", 0, 0)]
    [InlineData("t", -1, 0)]
    [InlineData("t", 0, -1)]
    public void Check_InvalidObservedRecord_ThrowsArgumentException(string topic, int partition, long offset)
    {
        var history = new History();

        Assert.Throws<ArgumentException>(() => HistoryChecker.Check(history, [new ObservedRecord(topic, partition, offset, "a")]));
    }

    private static void Send(History history, string producer, string id) => history.RecordSent(producer, id, Topic);

    private static void SendAndAck(History history, string producer, string id, int partition, long offset)
    {
        history.RecordSent(producer, id, Topic, partition);
        history.RecordAcknowledged(id, Topic, partition, offset, isDuplicate: false);
    }

    private static ObservedRecord At(int partition, long offset, string? id) => new(Topic, partition, offset, id);
}
