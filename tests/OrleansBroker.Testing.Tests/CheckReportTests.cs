using System.Text.Json;

namespace OrleansBroker.Testing.Tests;

public sealed class CheckReportTests
{
    [Fact]
    public void ToTable_LostAndDuplicate_PrintsFixedWidthRowsWithExamples()
    {
        var report = LostAndDuplicateReport();

        var table = report.ToTable();

        Assert.Equal(Table.ReplaceLineEndings("\n"), table);
    }

    [Fact]
    public void ToJson_LostAndDuplicate_WritesOneLineSummary()
    {
        var report = LostAndDuplicateReport();

        var json = report.ToJson();

        Assert.DoesNotContain('\n', json);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(4, root.GetProperty("sent").GetInt32());
        Assert.Equal(3, root.GetProperty("acknowledged").GetInt32());
        Assert.Equal(1, root.GetProperty("duplicatesAcknowledged").GetInt32());
        Assert.Equal(1, root.GetProperty("failed").GetInt32());
        Assert.Equal(1, root.GetProperty("possiblyPersistedAbsent").GetInt32());
        Assert.Equal(4, root.GetProperty("observed").GetInt32());
        Assert.Equal(3, root.GetProperty("totalAnomalies").GetInt32());
        Assert.True(root.GetProperty("hasAnomalies").GetBoolean());
        var anomalies = root.GetProperty("anomalies");
        Assert.Equal(1, anomalies.GetProperty("lost").GetInt32());
        Assert.Equal(2, anomalies.GetProperty("duplicate").GetInt32());
        Assert.Equal(0, anomalies.GetProperty("wrongOffset").GetInt32());
        Assert.Equal(Enum.GetValues<AnomalyKind>().Length, anomalies.EnumerateObject().Count());
    }

    [Fact]
    public void ThrowIfAnomalies_WithAnomalies_ThrowsWithTableAsMessage()
    {
        var report = LostAndDuplicateReport();

        var error = Assert.Throws<HistoryAnomalyException>(report.ThrowIfAnomalies);

        Assert.Equal(report.ToTable(), error.Message);
        Assert.Same(report, error.Report);
    }

    [Fact]
    public void ThrowIfAnomalies_Clean_DoesNotThrow()
    {
        var history = new History();
        history.RecordSent("p", "a", "t", 0);
        history.RecordAcknowledged("a", "t", 0, 0, isDuplicate: false);
        var report = HistoryChecker.Check(history, [new ObservedRecord("t", 0, 0, "a")]);

        report.ThrowIfAnomalies();

        Assert.Equal(
            """{"sent":1,"acknowledged":1,"duplicatesAcknowledged":0,"failed":0,"possiblyPersistedStored":0,"possiblyPersistedAbsent":0,"observed":1,"totalAnomalies":0,"hasAnomalies":false,"anomalies":{"lost":0,"wrongOffset":0,"duplicate":0,"reordered":0,"phantom":0,"failedButStored":0,"unresolved":0,"conflictingOutcome":0}}""",
            report.ToJson());
    }

    private const string Table =
        """
        kind                    | count | examples
        ------------------------+-------+---------
        Lost                    |     1 | p0:000000001 @ orders/0@1: acknowledged at orders/0@1 but not in the log; orders/0@1 is empty
        WrongOffset             |     0 |
        Duplicate               |     2 | p1:000000000 @ orders/1@0: stored 3 times: orders/1@0, orders/1@1, orders/1@2
        Reordered               |     0 |
        Phantom                 |     0 |
        FailedButStored         |     0 |
        Unresolved              |     0 |
        ConflictingOutcome      |     0 |
        ------------------------+-------+---------
        sent                    |     4 |
        acknowledged            |     3 |
        duplicatesAcknowledged  |     1 |
        failed                  |     1 |
        possiblyPersistedStored |     0 |
        possiblyPersistedAbsent |     1 |
        observed                |     4 |

        """;

    private static CheckReport LostAndDuplicateReport()
    {
        var history = new History();
        history.RecordSent("p0", "p0:000000000", "orders", 0);
        history.RecordSent("p0", "p0:000000001", "orders", 0);
        history.RecordSent("p1", "p1:000000000", "orders", 1);
        history.RecordSent("p1", "p1:000000001", "orders");
        history.RecordAcknowledged("p0:000000000", "orders", 0, 0, isDuplicate: false);
        history.RecordAcknowledged("p0:000000001", "orders", 0, 1, isDuplicate: false);
        history.RecordAcknowledged("p1:000000000", "orders", 1, 0, isDuplicate: true);
        history.RecordFailed("p1:000000001", "REQUEST_TIMED_OUT", possiblyPersisted: true);
        return HistoryChecker.Check(
            history,
            [
                new ObservedRecord("orders", 0, 0, "p0:000000000"),
                new ObservedRecord("orders", 1, 0, "p1:000000000"),
                new ObservedRecord("orders", 1, 1, "p1:000000000"),
                new ObservedRecord("orders", 1, 2, "p1:000000000"),
            ]);
    }
}
