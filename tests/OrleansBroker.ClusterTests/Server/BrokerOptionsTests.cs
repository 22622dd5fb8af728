using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Log;
using OrleansBroker.Server;

namespace OrleansBroker.ClusterTests.Server;

public sealed class BrokerOptionsTests
{
    [Fact]
    public void Validate_Defaults_Succeeds()
    {
        ValidateOptionsResult result = new BrokerOptionsValidator().Validate(null, new BrokerOptions());

        Assert.True(result.Succeeded, result.FailureMessage);
    }

    [Theory]
    [InlineData("00:00:00", true)]
    [InlineData("00:00:05", true)]
    [InlineData("00:00:05.001", false)]
    [InlineData("60.00:00:00", false)] // beyond what a timed wait accepts (~49 days): refused here, not thrown by the first waiting batch
    public void Validate_ProduceReorderWait_ZeroToFiveSeconds(string wait, bool valid)
    {
        var options = new BrokerOptions { ProduceReorderWait = TimeSpan.Parse(wait, System.Globalization.CultureInfo.InvariantCulture) };

        ValidateOptionsResult result = new BrokerOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.StartsWith($"Broker:ProduceReorderWait is {options.ProduceReorderWait}; set it between zero and 00:00:05", Assert.Single(result.Failures!), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_EveryFieldWrong_ReportsEveryFailureWithWhatToSet()
    {
        var options = new BrokerOptions
        {
            DataDirectory = " ",
            DefaultPartitions = 0,
            MaxPartitionsPerTopic = 0,
            MaxMessageBytes = 10,
            SegmentBytes = 10,
            FlushMessages = 0,
            FlushMs = -1,
            ProducerIdExpiration = TimeSpan.Zero,
            ProducerExpirationCheckInterval = TimeSpan.FromSeconds(-1),
            ProduceReorderWait = TimeSpan.FromMilliseconds(-1),
            ProducerIdBlockSize = 0,
        };

        ValidateOptionsResult result = new BrokerOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        string[] expectedStarts =
        [
            "Broker:DataDirectory is empty",
            "Broker:MaxPartitionsPerTopic is 0; set it to at least 1",
            "Broker:DefaultPartitions is 0; set it between 1",
            "Broker:MaxMessageBytes is 10; set it to at least 1024",
            "Broker:SegmentBytes is 10; set it to at least 4096",
            "Broker:FlushMessages is 0; set it to at least 1",
            "Broker:FlushMs is -1; set it to 0 or more",
            "Broker:ProducerIdExpiration is 00:00:00; set it to a positive duration",
            "Broker:ProducerExpirationCheckInterval is -00:00:01; set it to a positive duration",
            "Broker:ProduceReorderWait is -00:00:00.0010000; set it between zero and 00:00:05",
            "Broker:ProducerIdBlockSize is 0; set it to at least 1",
        ];
        List<string> failures = [.. result.Failures!];
        Assert.Equal(expectedStarts.Length, failures.Count);
        for (int i = 0; i < expectedStarts.Length; i++)
        {
            Assert.StartsWith(expectedStarts[i], failures[i], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CreateDefaultTopicSettings_CopiesBrokerDefaults()
    {
        var options = new BrokerOptions { MaxMessageBytes = 2048, SegmentBytes = 1 << 20, FlushMessages = 10, FlushMs = 500 };

        Assert.Equal(new TopicSettings { MaxMessageBytes = 2048, SegmentBytes = 1 << 20, FlushMessages = 10, FlushMs = 500 }, options.CreateDefaultTopicSettings());
    }

    [Fact]
    public void GetPartitionDirectory_LegalTopic_IsUnderDataDirectoryTopics()
    {
        string data = Path.Combine(Path.GetTempPath(), "obroker-f-" + Guid.NewGuid().ToString("N"));
        var factory = new FileLogStoreFactory(Options.Create(new BrokerOptions { DataDirectory = data }), new FakeTimeProvider(), NullLoggerFactory.Instance);

        Assert.Equal(Path.Combine(data, "topics", "orders.v2_x-17"), factory.GetPartitionDirectory("orders.v2_x", 17));
        Assert.False(Directory.Exists(data));
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("../x")]
    [InlineData("/etc/passwd")]
    [InlineData("a\\b")]
    [InlineData("")]
    public void Create_IllegalTopic_ThrowsArgumentExceptionBeforeTouchingDisk(string topic)
    {
        string data = Path.Combine(Path.GetTempPath(), "obroker-f-" + Guid.NewGuid().ToString("N"));
        var factory = new FileLogStoreFactory(Options.Create(new BrokerOptions { DataDirectory = data }), new FakeTimeProvider(), NullLoggerFactory.Instance);

        Assert.Throws<ArgumentException>(() => factory.Create(topic, 0, new PartitionLogOptions()));
        Assert.False(Directory.Exists(data));
    }

    [Fact]
    public void Create_NegativePartition_Throws()
    {
        var factory = new FileLogStoreFactory(Options.Create(new BrokerOptions()), new FakeTimeProvider(), NullLoggerFactory.Instance);

        Assert.Throws<ArgumentOutOfRangeException>(() => factory.Create("t", -1, new PartitionLogOptions()));
    }
}
