namespace Blockbuster.Model;

/// <summary>
/// File facts that follow symbolic links. huggingface_hub's cache stores <c>snapshots/&lt;commit&gt;/file</c> as a
/// link into <c>blobs/</c>, and .NET's <see cref="FileInfo.Length"/> measures a link itself, not its target.
/// </summary>
public static class ModelFiles
{
    /// <summary>The size of the file a path names, through any chain of links.</summary>
    public static long Length(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
        {
            var target = info.ResolveLinkTarget(returnFinalTarget: true);
            if (target is not FileInfo { Exists: true } file) throw new ModelFormatException($"{path}: a link to {target?.FullName ?? info.LinkTarget}, which does not exist.");
            return file.Length;
        }
        return info.Length;
    }
}
