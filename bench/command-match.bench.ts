// What matching one transcript costs: detect() on live-transcript-sized utterances against a
// set of 100 commands, side by side with the 5-command clinical set as the baseline.
// Run from the repository root: npx tsx --conditions=@earshot/source bench/command-match.bench.ts
import { type CommandDefinition, createCommandDetector } from '@earshot/commands';

const drugs = [
  'amoxicillin',
  'lisinopril',
  'metformin',
  'ibuprofen',
  'atorvastatin',
  'amlodipine',
  'omeprazole',
  'sertraline',
  'gabapentin',
  'prednisone',
];
const labs = [
  'complete blood count',
  'basic metabolic panel',
  'lipid panel',
  'hemoglobin a1c',
  'urinalysis',
];
const clinical: CommandDefinition[] = [
  {
    name: 'write_prescription',
    patterns: [
      '(write [a] prescription [for] | prescribe) {drug:drug} {dose:dose} {frequency:frequency}',
      'start [him | her | them] on {drug:drug} {dose:dose} {frequency:frequency}',
    ],
  },
  { name: 'add_note', patterns: ['add [a] note [that] {text}'] },
  { name: 'order_lab', patterns: ['order [a | an] {test:lab}'] },
  { name: 'schedule_follow_up', patterns: ['schedule [a] follow [up] in {in:duration}'] },
  {
    name: 'record_blood_pressure',
    patterns: ['blood pressure [is] {systolic:number} over {diastolic:number}'],
  },
];
// 95 more commands of the same shapes, as a large organization's set would have.
const verbs = [
  'open',
  'close',
  'show',
  'hide',
  'print',
  'send',
  'flag',
  'mark',
  'assign',
  'cancel',
  'review',
  'sign',
  'share',
  'archive',
  'refer',
  'call',
  'page',
  'start',
  'stop',
];
const objects = ['chart', 'referral', 'discharge summary', 'care plan', 'allergy list'];
const more: CommandDefinition[] = verbs.flatMap((verb) =>
  objects.map((object) => ({
    name: `${verb}_${object.replace(/ /g, '_')}`,
    patterns: [`${verb} [the] ${object} [for] {target}`],
  })),
);
const set = (commands: CommandDefinition[]) =>
  createCommandDetector({ wakeWords: ['sully'], lexicons: { drug: drugs, lab: labs }, commands });
const detectors = { '5 commands': set(clinical), '100 commands': set([...clinical, ...more]) };

const transcripts = [
  'sully write a prescription for amoxicillin five hundred milligrams twice a day',
  'okay so how have you been feeling since the last visit any headaches',
  'sally add a note patient reports mild headache since tuesday',
  'we talked about the lipid panel results last time they looked fine',
  'sully order a complete blood count and then we will see',
  'so the blood pressure was one thirty over eighty five at home',
];

const rows: Record<string, string>[] = [];
let baseline = Number.NaN;
for (const [name, detector] of Object.entries(detectors)) {
  for (let i = 0; i < 200; i++) for (const t of transcripts) detector.detect(t); // warm up
  const rounds = 2000;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) for (const t of transcripts) detector.detect(t);
  const us = ((performance.now() - started) * 1000) / (rounds * transcripts.length);
  if (Number.isNaN(baseline)) baseline = us;
  rows.push({
    set: name,
    'µs per transcript': us.toFixed(1),
    '÷ 5 commands': (us / baseline).toFixed(2),
  });
}
console.table(rows);
