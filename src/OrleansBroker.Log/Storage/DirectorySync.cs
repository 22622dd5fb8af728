using System.Runtime.InteropServices;
using System.Text;

namespace OrleansBroker.Log.Storage;

/// <summary>
/// fsync of a directory, so a created, renamed or deleted file name is durable. .NET has no managed API for it (a directory cannot
/// be opened as a file), so this calls libc's <c>open</c>/<c>fsync</c>/<c>close</c> on Unix, best effort; on Windows it does nothing
/// (NTFS journals metadata).
/// </summary>
internal static class DirectorySync
{
    /// <summary>fsyncs <paramref name="directory"/>; returns false when not supported or it failed (never throws).</summary>
    public static bool TryFsync(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS() && !OperatingSystem.IsFreeBSD())
        {
            return false;
        }

        try
        {
            byte[] path = Encoding.UTF8.GetBytes(directory + "\0");
            int fd = NativeMethods.Open(path, 0 /* O_RDONLY */);
            if (fd < 0)
            {
                return false;
            }

            try
            {
                return NativeMethods.Fsync(fd) == 0;
            }
            finally
            {
                _ = NativeMethods.Close(fd);
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Open(byte[] path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Fsync(int fd);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Close(int fd);
    }
}
