export { CONTRACT_SCRIPT, contractAudioChunk } from './contract-script.js';
export {
  type ContractError,
  type ContractProvider,
  type ContractStream,
  type ContractTranscript,
  describeProviderContract,
  type ProviderContractSubject,
} from './provider-contract.js';
