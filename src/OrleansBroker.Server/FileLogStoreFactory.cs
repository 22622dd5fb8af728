using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Log;
using OrleansBroker.Protocol;

namespace OrleansBroker.Server;

/// <summary>
/// The default <see cref="ILogStoreFactory"/>: a <see cref="FileLogStore"/> per partition in
/// <c>{DataDirectory}/topics/{topic}-{partition}</c>. The topic name is checked with <see cref="TopicName.IsValid"/> before any path is
/// built, and the resolved directory is checked to lie under the data directory.
/// </summary>
public sealed class FileLogStoreFactory : ILogStoreFactory
{
    /// <summary>Name of the folder under <see cref="BrokerOptions.DataDirectory"/> that holds the partition directories.</summary>
    public const string TopicsFolderName = "topics";

    private readonly string _topicsRoot;
    private readonly TimeProvider _timeProvider;
    private readonly ILoggerFactory _loggerFactory;

    /// <summary>Creates the factory.</summary>
    /// <param name="options">The broker options (for <see cref="BrokerOptions.DataDirectory"/>).</param>
    /// <param name="timeProvider">Clock handed to each store (flush timing).</param>
    /// <param name="loggerFactory">Creates each store's logger.</param>
    public FileLogStoreFactory(IOptions<BrokerOptions> options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _topicsRoot = Path.GetFullPath(Path.Combine(options.Value.DataDirectory, TopicsFolderName));
        _timeProvider = timeProvider;
        _loggerFactory = loggerFactory;
    }

    /// <summary>Full path of the directory holding every partition directory.</summary>
    public string TopicsDirectory => _topicsRoot;

    /// <summary>Returns the directory of one partition without touching the disk.</summary>
    /// <param name="topic">A legal topic name.</param>
    /// <param name="partition">The partition number, 0 or more.</param>
    /// <returns>The full path <c>{DataDirectory}/topics/{topic}-{partition}</c>.</returns>
    /// <exception cref="ArgumentException">The topic name is not legal, or the path would leave the data directory.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The partition is negative.</exception>
    public string GetPartitionDirectory(string topic, int partition)
    {
        if (!TopicName.IsValid(topic, out string? reason))
        {
            throw new ArgumentException(reason, nameof(topic));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(partition);

        string directory = Path.GetFullPath(Path.Combine(_topicsRoot, $"{topic}-{partition.ToString(System.Globalization.CultureInfo.InvariantCulture)}"));
        string root = Path.EndsInDirectorySeparator(_topicsRoot) ? _topicsRoot : _topicsRoot + Path.DirectorySeparatorChar;
        if (!directory.StartsWith(root, StringComparison.Ordinal) || directory.Length <= root.Length)
        {
            throw new ArgumentException($"The partition directory '{directory}' would lie outside '{_topicsRoot}'.", nameof(topic));
        }

        return directory;
    }

    /// <inheritdoc />
    public ILogStore Create(string topic, int partition, PartitionLogOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string directory = GetPartitionDirectory(topic, partition);
        return new FileLogStore(directory, options, _timeProvider, _loggerFactory.CreateLogger<FileLogStore>());
    }
}
