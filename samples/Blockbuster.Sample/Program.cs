// Uses Blockbuster as a library: trains a small classifier from code (progress through IProgress<T>), then loads it
// and scores reviews, one at a time, as a batch, and from several threads at once.
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;

var output = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "blockbuster-sample-model");
var data = args.Length > 1 ? args[1] : Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/data/imdb.csv"));

var options = new TrainingOptions
{
    Data = data, Output = output, Overwrite = true, FromScratch = true, FullFinetune = true,   // prajjwal1/bert-tiny's shape, shipped inside
    Limit = 400, Epochs = 1, MaxLength = 64,
};
var progress = new Progress<TrainingEvent>(e =>
{
    if (e is EpochCompleted epoch) Console.WriteLine($"epoch {epoch.Epoch}/{epoch.Epochs}: held-out accuracy {epoch.Metrics.Accuracy:P1}");
});
var result = await Trainer.RunAsync(options, new HubClient(HubOptions.FromEnvironment()), progress);
Console.WriteLine($"trained {result.Output}: accuracy {result.Metrics!.Accuracy:P1}");

using var classifier = await SentimentClassifier.LoadAsync(output);
var one = classifier.Predict("A wonderful film: superb acting and a story that kept me hooked.");
Console.WriteLine($"one: {one.Label} {one.Probability:F3}");
foreach (var p in classifier.Predict(["Dull and far too long.", "I laughed and cried; see it."]))
    Console.WriteLine($"batch: {p.Label} {p.Probability:F3}");
var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => classifier.Predict($"review number {i}: great fun"))));
Console.WriteLine($"concurrent: {string.Join(", ", together.Select(p => p.Label))}");
