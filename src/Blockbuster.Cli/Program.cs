using Blockbuster.Cli;

var exitCode = await CliApp.RunAsync(args);
// predict is the command people run cold, once per text or file. Once it has written and flushed everything,
// the process ends without the runtime's and LibTorch's teardown (static destructors, the OpenMP pool): that
// teardown took ~80 ms of a ~0.5 s cold run (README "cold start"). Every file is closed by then.
if (args.Length > 0 && args[0] == "predict") FastExit.Now(exitCode);
return exitCode;
