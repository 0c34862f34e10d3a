import { describeProviderContract } from '@earshot/testing/contract';
import { streamingSubjects } from '../support/provider-subjects.js';

// The same contract, faults included, for every streaming provider through its vendor's SDK
// against that vendor's emulator (scripted transcripts, so the expected words are exact).
for (const subject of streamingSubjects) describeProviderContract(subject);
