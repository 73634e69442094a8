namespace Blockbuster.Serving;

/// <summary>What <c>blockbuster serve</c> takes.</summary>
/// <param name="Host">address to bind; 127.0.0.1 unless the user opens it up</param>
/// <param name="MaxBatchSize">texts scored together at most (dynamic batching); 1 scores one request at a time</param>
/// <param name="MaxWaitMilliseconds">how long the first queued text waits for company before its batch is scored</param>
/// <param name="MaxQueuedInputs">texts waiting or being scored at most; beyond it requests get 429</param>
/// <param name="MaxClientBatchSize">texts one request may send (TEI's max_client_batch_size)</param>
/// <param name="MaxBodyBytes">largest request body (413 beyond it)</param>
/// <param name="TruncateByDefault">cut over-long inputs when a request does not say (TEI's default is to refuse them, 422)</param>
/// <param name="ApiKey">when set, every request but the demo page needs <c>Authorization: Bearer KEY</c></param>
/// <param name="InferenceBatchSize">texts per forward pass inside a batch; the two CPU workers take one each, as in eval</param>
/// <param name="Int8">dynamic int8 linear layers in the encoder (CPU), as <c>predict --quantize int8</c></param>
/// <param name="Nf4">the encoder and pooler held in 4 bits, as <c>predict --quantize nf4</c> (less memory, slower)</param>
public sealed record ServeOptions(
    string Model = "./blockbuster-model", string Host = "127.0.0.1", int Port = 8080, int MaxBatchSize = 64, int MaxWaitMilliseconds = 5,
    int MaxQueuedInputs = 128, int MaxClientBatchSize = 32, long MaxBodyBytes = 2_000_000, bool TruncateByDefault = false,
    string? ApiKey = null, int InferenceBatchSize = 16, string Precision = "auto", int Threads = 0, string Device = "auto", bool Int8 = false,
    Model.Quantization.Nf4Options? Nf4 = null);
