using Blockbuster.Fuzz;
using SharpFuzz;

// blockbuster-fuzz READER           the AFL++ target: each input becomes the reader's file and is read (scripts/fuzz.sh)
// blockbuster-fuzz --seeds FOLDER   writes FOLDER/READER/<file>, one small valid input per reader
// blockbuster-fuzz --replay READER FILE...   reads each file once (uninstrumented build) and says how it ended
switch (args)
{
    case ["--replay", var name, .. var files] when files.Length > 0:
        int crashes = 0;
        foreach (var file in files)
        {
            try { Readers.Named(name).Read(file); Console.WriteLine($"{file}: loaded"); }
            catch (Exception e) when (Readers.IsReported(e)) { Console.WriteLine($"{file}: clean error: {e.Message}"); }
            catch (Exception e) { crashes++; Console.WriteLine($"{file}: CRASH {e}"); }
        }
        return crashes == 0 ? 0 : 1;
    case ["--seeds", var folder]:
        Seeds.Write(folder);
        return 0;
    case [var name] when Readers.All.Any(r => r.Name == name):
        var reader = Readers.Named(name);
        // One file per fuzzing process, rewritten for every input (the readers take paths, as the CLI passes them).
        var dir = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"blockbuster-fuzz-{Environment.ProcessId}")).FullName;
        var path = Path.Combine(dir, reader.FileName);
        var log = Environment.GetEnvironmentVariable("BLOCKBUSTER_FUZZ_LOG");
        Fuzzer.OutOfProcess.Run(stream =>
        {
            try
            {
                using (var file = File.Create(path)) stream.CopyTo(file);
                try { reader.Read(path); }
                catch (Exception e) when (Readers.IsReported(e)) { }   // a clean one-line error; anything else reaches AFL++ as a crash
            }
            catch (Exception e) when (log is { Length: > 0 })
            {
                // AFL++ keeps the input but not the exception: note it for triage (a native crash leaves no line here).
                File.AppendAllText(log, $"{DateTime.UtcNow:O} {e.GetType().FullName}: {e.Message.ReplaceLineEndings(" ")} at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}{Environment.NewLine}");
                throw;
            }
        });
        return 0;
    default:
        Console.Error.WriteLine($"usage: blockbuster-fuzz READER | --seeds FOLDER | --replay READER FILE...   (READER: {string.Join(", ", Readers.All.Select(r => r.Name))})");
        return 2;
}
