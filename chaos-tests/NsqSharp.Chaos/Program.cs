// nsq_chaos: the Jepsen-style harness behind chaos-tests/run.sh. Being built (issue 11).
Console.Error.WriteLine("nsq_chaos: not built yet");
return 2;
