using System.Collections.Concurrent;

namespace Blockbuster.Training.Evaluation;

/// <summary>
/// The second inference worker: one thread for the life of the process. Not a new thread per call, nor a
/// pool thread: glibc gives each allocating thread a heap arena that keeps its peak, and a new thread each
/// held-out evaluation could land in a fresh arena every epoch and grow the training run's memory.
/// </summary>
static class InferenceHelperThread
{
    static readonly BlockingCollection<Action> Queue = new();
    static readonly Lazy<Thread> Thread = new(() =>
    {
        var thread = new Thread(() => { foreach (var action in Queue.GetConsumingEnumerable()) action(); })
        {
            IsBackground = true, Name = "blockbuster inference helper",
        };
        thread.Start();
        return thread;
    });

    /// <summary>Queues <paramref name="action"/>; the task completes (or faults) when it has run.</summary>
    public static Task Run(Action action)
    {
        _ = Thread.Value;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add(() =>
        {
            try
            {
                action();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }
}
