using Blockbuster.Cli;

return await CliApp.RunAsync(args);
