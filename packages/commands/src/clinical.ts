import type { CommandSet } from './command-detector.js';
import type { LexiconEntry } from './slot-types.js';

const said = (name: string, ...others: string[]): LexiconEntry => ({ name, spoken: others });

/** Forty common generic drug names: the lexicon of the clinical example's `drug` slot. */
export const CLINICAL_DRUGS: readonly LexiconEntry[] = [
  'acetaminophen',
  'albuterol',
  'amlodipine',
  'amoxicillin',
  'apixaban',
  'atorvastatin',
  'azithromycin',
  'cephalexin',
  'cetirizine',
  'ciprofloxacin',
  'clopidogrel',
  'doxycycline',
  'escitalopram',
  'famotidine',
  'fluoxetine',
  'furosemide',
  'gabapentin',
  'hydrochlorothiazide',
  'ibuprofen',
  'insulin glargine',
  'levothyroxine',
  'lisinopril',
  'loratadine',
  'losartan',
  'metformin',
  'methylprednisolone',
  'metoprolol',
  'montelukast',
  'naproxen',
  'nitrofurantoin',
  'omeprazole',
  'ondansetron',
  'pantoprazole',
  'prednisone',
  'rosuvastatin',
  'sertraline',
  'simvastatin',
  'tramadol',
  'trazodone',
  'warfarin',
];

/** Fifteen common orders: the lexicon of the clinical example's `test` slot. */
export const CLINICAL_LAB_TESTS: readonly LexiconEntry[] = [
  said('complete blood count', 'cbc'),
  said('basic metabolic panel', 'bmp'),
  said('comprehensive metabolic panel', 'cmp'),
  'lipid panel',
  said('hemoglobin a1c', 'hemoglobin a one c', 'a one c'),
  'thyroid panel',
  'urinalysis',
  'urine culture',
  'blood culture',
  said('chest x-ray', 'chest x ray'),
  said('liver function panel', 'liver panel'),
  'vitamin d level',
  'strep test',
  'pregnancy test',
  said('electrocardiogram', 'ekg'),
];

/**
 * The clinical scribe's commands (seed 000), a documented example: behind the wake word
 * "Sully", write a prescription (drug, dose, frequency), add a note, order a lab test,
 * schedule a follow-up, record a blood pressure. The demo server enables it; the evaluation
 * corpus (`eval/`) measures it.
 *
 * @example
 * ```ts
 * const detector = createCommandDetector(clinicalCommands());
 * detector.detect('Sully, order a lipid panel'); // [{ name: 'order_lab', slots: { test: 'lipid panel' }, … }]
 * ```
 */
export function clinicalCommands(): CommandSet {
  return {
    wakeWords: ['sully'],
    lexicons: { drug: CLINICAL_DRUGS, lab: CLINICAL_LAB_TESTS },
    commands: [
      {
        name: 'write_prescription',
        description: 'Writes a prescription: drug, dose and frequency.',
        patterns: [
          '(write [a | the] prescription [for] | prescribe) {drug:drug} [take] {dose:dose} [to be taken] {frequency:frequency}',
          '(write [a | the] prescription [for] | prescribe) {dose:dose} [of] {drug:drug} {frequency:frequency}',
          '(start | put) [him | her | them | the patient] on {drug:drug} {dose:dose} {frequency:frequency}',
        ],
        examples: ['write a prescription for amoxicillin five hundred milligrams twice a day'],
      },
      {
        name: 'add_note',
        description: 'Adds a note to the visit.',
        patterns: ['(add | make | take) [a | to the] note [that | to] {text}', 'note that {text}'],
        examples: ['add a note patient reports mild headache'],
      },
      {
        name: 'order_lab',
        description: 'Orders a lab test or study.',
        patterns: ['order [a | an | the] {test:lab}', 'get [a | an] {test:lab}'],
        examples: ['order a lipid panel'],
      },
      {
        name: 'schedule_follow_up',
        description: 'Schedules a follow-up visit.',
        patterns: [
          'schedule [a | of | the] follow [up] [visit | appointment] in {in:duration}',
          'follow [up] in {in:duration}',
        ],
        examples: ['schedule a follow up in two weeks'],
      },
      {
        name: 'record_blood_pressure',
        description: 'Records a blood pressure reading.',
        patterns: [
          '[record] [the | of] blood pressure [is | of | on] {systolic:number} [or] over {diastolic:number}',
          'b p [is] {systolic:number} over {diastolic:number}',
        ],
        examples: ['blood pressure one twenty over eighty'],
      },
    ],
  };
}
