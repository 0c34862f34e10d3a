import { describeProviderContract } from '@earshot/testing/contract';
import { allSubjects } from '../support/provider-subjects.js';

// The same contract, faults included, for every cloud provider through its vendor's SDK
// against that vendor's emulator (scripted transcripts, so the expected words are exact).
for (const subject of allSubjects) describeProviderContract(subject);
