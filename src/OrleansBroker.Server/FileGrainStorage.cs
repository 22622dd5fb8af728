using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;
using OrleansBroker.Server.Internal;

namespace OrleansBroker.Server;

/// <summary>
/// A durable grain storage provider on the local file system: one JSON file per grain state in a directory
/// (by default <c>{DataDirectory}/grain-state</c>). A write goes to a temporary file that is fsynced and then renamed over the old one
/// (and the directory fsynced), so a crash leaves either the old or the new state, never a torn one. ETags give optimistic
/// concurrency: a write or clear whose ETag does not match the stored one throws <see cref="InconsistentStateException"/>.
/// </summary>
/// <remarks>
/// Writers to the same file are serialized by an exclusive lock on a <c>.lock</c> file beside it (also across processes that share
/// the directory). State is serialized with System.Text.Json: state types need public properties (get/set or init) or a matching constructor.
/// </remarks>
public sealed partial class FileGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private const string FileExtension = ".json";
    private const string TempExtension = ".tmp";
    private const string LockExtension = ".lock";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StaleTempAge = TimeSpan.FromHours(1);
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private readonly string _name;
    private readonly string _directory;
    private readonly IActivatorProvider _activatorProvider;
    private readonly ILogger<FileGrainStorage> _logger;

    /// <summary>Creates the provider; the directory is created at silo start.</summary>
    /// <param name="name">The provider's name (for messages).</param>
    /// <param name="directory">Directory holding the state files.</param>
    /// <param name="activatorProvider">Creates a fresh state object when none is stored.</param>
    /// <param name="logger">Logger.</param>
    public FileGrainStorage(string name, string directory, IActivatorProvider activatorProvider, ILogger<FileGrainStorage> logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(activatorProvider);
        ArgumentNullException.ThrowIfNull(logger);
        _name = name;
        _directory = Path.GetFullPath(directory);
        _activatorProvider = activatorProvider;
        _logger = logger;
    }

    /// <summary>Full path of the directory holding the state files.</summary>
    public string Directory => _directory;

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ReadCoreAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    Task IGrainStorage.ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        ReadCoreAsync(stateName, grainId, grainState, cancellationToken);

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => WriteCoreAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    Task IGrainStorage.WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        WriteCoreAsync(stateName, grainId, grainState, cancellationToken);

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => ClearCoreAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    Task IGrainStorage.ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        ClearCoreAsync(stateName, grainId, grainState, cancellationToken);

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        lifecycle.Subscribe($"{nameof(FileGrainStorage)}-{_name}", ServiceLifecycleStage.ApplicationServices, cancellationToken =>
        {
            _ = System.IO.Directory.CreateDirectory(_directory);
            RemoveStaleTempFiles();
            return Task.CompletedTask;
        });
    }

    /// <summary>Returns the file a grain's state is stored in: a readable prefix plus a hash of the full identity.</summary>
    /// <param name="stateName">The state name.</param>
    /// <param name="grainId">The grain.</param>
    /// <returns>The full path.</returns>
    public string GetFilePath(string stateName, GrainId grainId)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        string type = grainId.Type.ToString() ?? string.Empty;
        string key = grainId.Key.ToString() ?? string.Empty;
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{type.Length}:{type}|{key.Length}:{key}|{stateName.Length}:{stateName}"));
        string name = $"{Sanitize(type)}_{Sanitize(key)}_{Sanitize(stateName)}_{Convert.ToHexStringLower(hash, 0, 8)}{FileExtension}";
        return Path.Combine(_directory, name);
    }

    private async Task ReadCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        string path = GetFilePath(stateName, grainId);
        StoredState? stored = await TryReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            ResetState(grainState);
            return;
        }

        try
        {
            grainState.State = stored.Value.State.Deserialize<T>(JsonOptions) ?? _activatorProvider.GetActivator<T>().Create();
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Grain state file '{path}' of {grainId} does not hold a {typeof(T).Name}: {ex.Message}", ex);
        }

        grainState.ETag = stored.Value.ETag;
        grainState.RecordExists = true;
        LogRead(_logger, grainId, stateName, stored.Value.ETag);
    }

    private async Task WriteCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        string path = GetFilePath(stateName, grainId);
        string etag = Guid.NewGuid().ToString("N");
        byte[] bytes = Serialize(etag, stateName, grainId, grainState.State);
        _ = System.IO.Directory.CreateDirectory(_directory);

        using (await AcquireLockAsync(path, cancellationToken).ConfigureAwait(false))
        {
            StoredState? stored = await TryReadAsync(path, cancellationToken).ConfigureAwait(false);
            CheckETag("write", path, grainId, grainState.ETag, stored?.ETag);

            // From here on, finish the write even if cancelled: a half-done replace must not be left behind.
            string temp = $"{path}.{Guid.NewGuid():N}{TempExtension}";
            try
            {
                using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.None))
                {
                    await stream.WriteAsync(bytes, CancellationToken.None).ConfigureAwait(false);
                    stream.Flush(flushToDisk: true);
                }

                File.Move(temp, path, overwrite: true);
                DirectorySync.Flush(_directory);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
        }

        grainState.ETag = etag;
        grainState.RecordExists = true;
        LogWritten(_logger, grainId, stateName, etag);
    }

    private async Task ClearCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        string path = GetFilePath(stateName, grainId);
        using (await AcquireLockAsync(path, cancellationToken).ConfigureAwait(false))
        {
            StoredState? stored = await TryReadAsync(path, cancellationToken).ConfigureAwait(false);
            if (stored is not null)
            {
                CheckETag("clear", path, grainId, grainState.ETag, stored.Value.ETag);
                File.Delete(path);
                DirectorySync.Flush(_directory);
            }
        }

        ResetState(grainState);
    }

    private void CheckETag(string operation, string path, GrainId grainId, string? expected, string? stored)
    {
        if (!string.Equals(expected, stored, StringComparison.Ordinal))
        {
            LogETagMismatch(_logger, operation, grainId, expected, stored);
            throw new InconsistentStateException(
                $"Version conflict on {operation} of {grainId} in grain storage '{_name}' ({path}): the grain holds ETag '{expected ?? "<none>"}' but the stored one is '{stored ?? "<none>"}'. Another activation wrote the state; reactivate to reload it.",
                stored ?? string.Empty,
                expected ?? string.Empty);
        }
    }

    private void ResetState<T>(IGrainState<T> grainState)
    {
        grainState.State = _activatorProvider.GetActivator<T>().Create();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private static byte[] Serialize<T>(string etag, string stateName, GrainId grainId, T state)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WriteString("etag", etag);
            writer.WriteString("grainId", grainId.ToString());
            writer.WriteString("stateName", stateName);
            writer.WriteString("stateType", typeof(T).FullName);
            writer.WritePropertyName("state");
            JsonSerializer.Serialize(writer, state, JsonOptions);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task<StoredState?> TryReadAsync(string path, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try
        {
            bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(bytes);
            JsonElement root = document.RootElement;
            string etag = root.GetProperty("etag").GetString() ?? throw new InvalidDataException("etag is null");
            return new StoredState(etag, root.GetProperty("state").Clone());
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or InvalidDataException)
        {
            throw new InvalidDataException($"Grain state file '{path}' is not a valid state file ({ex.Message}). Restore it from a backup or remove it deliberately.", ex);
        }
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        string lockPath = path + LockExtension;
        long deadline = Environment.TickCount64 + (long)LockTimeout.TotalMilliseconds;
        int delayMs = 1;
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 1, FileOptions.None);
            }
            catch (IOException) when (Environment.TickCount64 < deadline && File.Exists(lockPath))
            {
                // Held by another writer (this or another process): wait briefly and retry.
                await Task.Delay(delayMs, cancellationToken).ConfigureAwait(false);
                delayMs = Math.Min(delayMs * 2, 50);
            }
        }
    }

    private void RemoveStaleTempFiles()
    {
        try
        {
            DateTime cutoff = DateTime.UtcNow - StaleTempAge;
            foreach (string temp in System.IO.Directory.EnumerateFiles(_directory, "*" + TempExtension))
            {
                if (File.GetLastWriteTimeUtc(temp) < cutoff)
                {
                    TryDelete(temp);
                }
            }
        }
        catch (IOException ex)
        {
            LogCleanupFailed(_logger, _directory, ex);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string Sanitize(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, 48));
        foreach (char c in value)
        {
            if (builder.Length == 48)
            {
                break;
            }

            builder.Append(c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '.' ? c : '-');
        }

        return builder.ToString();
    }

    [LoggerMessage(1, LogLevel.Trace, "Read grain state {GrainId}/{StateName}, ETag {ETag}")]
    private static partial void LogRead(ILogger logger, GrainId grainId, string stateName, string eTag);

    [LoggerMessage(2, LogLevel.Debug, "Wrote grain state {GrainId}/{StateName}, ETag {ETag}")]
    private static partial void LogWritten(ILogger logger, GrainId grainId, string stateName, string eTag);

    [LoggerMessage(3, LogLevel.Warning, "ETag mismatch on {Operation} of {GrainId}: grain has {ExpectedETag}, storage has {StoredETag}")]
    private static partial void LogETagMismatch(ILogger logger, string operation, GrainId grainId, string? expectedETag, string? storedETag);

    [LoggerMessage(4, LogLevel.Warning, "Could not remove stale temporary files in {Directory}")]
    private static partial void LogCleanupFailed(ILogger logger, string directory, Exception exception);

    private readonly record struct StoredState(string ETag, JsonElement State);
}
