using System.Collections;
using Razorvine.Pickle;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>
/// PyTorch <c>pytorch_model.bin</c> state dicts (a zip holding a pickle), read with TorchSharp.PyBridge's
/// restricted unpickler. A pickle that asks for anything beyond tensors and containers (say
/// <c>os.system</c>) is refused; that refusal becomes one sentence naming the file.
/// </summary>
public static class PytorchBinFile
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (ModelFiles.Length(path) == 0) throw new ModelFormatException($"{path}: file is empty, not a PyTorch checkpoint.");
        Hashtable table;
        try
        {
            // Our stream, closed however the read ends: PyBridge's path overload leaks its FileStream when the
            // file is not a zip (found by fuzzing: the file then stays locked for the rest of the process).
            using var stream = File.OpenRead(path);
            table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true);
        }
        catch (PickleException e)
        {
            throw new ModelFormatException($"{path}: refused to load: the pickle asks for something other than tensors ({ExceptionText.Clause(e)}). Convert it to safetensors.");
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            // The unpickler and the zip reader fail in many ways on a damaged file (fuzzing found an
            // IndexOutOfRangeException in load_dict): any of them is a file we cannot read, not a crash.
            throw new ModelFormatException($"{path}: not a readable PyTorch state dict ({ExceptionText.Clause(e)}).");
        }

        var result = new Dictionary<string, Tensor>();
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is string key && entry.Value is Tensor tensor) result[key] = tensor;
            else throw new ModelFormatException($"{path}: entry '{entry.Key}' is not a tensor; only state dicts are supported.");
        }
        return result;
    }

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        // The scope roots the chains' temporaries while they run (see DetachedCopy) and frees the copies once written.
        using var scope = NewDisposeScope();
        var table = new Hashtable();
        foreach (var (key, tensor) in tensors) table[key] = tensor.detach().cpu().contiguous();
        AtomicFile.Write(path, stream => PyTorchPickler.PickleStateDict(stream, table, leaveOpen: true));
    }
}
