// The labelled utterances of the voice-command evaluation corpus (issue 6) and the two lexicons
// the commands of seed 000 (a clinical scribe whose assistant is called "Sully") draw slots from.
//
// How the set was chosen:
// - Commands: every one of the five commands, a dozen ways or fewer each, spread over the wordings
//   a clinician uses ("write a prescription for", "prescribe", "start her on", "record", "log",
//   "book"), with fillers ("um", "okay", "please"), the wake word first or after a few words of
//   conversation ("okay thanks, Sully, order a urinalysis"), doses in every unit and
//   frequencies said several ways ("twice a day", "daily", "every eight hours").
// - Non-commands: conversation a careless matcher would fire on. Each says why in `distractor`:
//   a command without the wake word, the wake word without a command (or with a request outside
//   the five), Sully talked about rather than talked to, sound-alikes of the wake word
//   ("Sally", "silly"), and the command words, drug names, lab names, durations and blood
//   pressure readings in ordinary talk. Utterances whose intent a person could read either way
//   ("Sully, don't write that prescription yet") are left out, so every label is clear.
// - Text is written as it is said: numbers in words, letters spelled where they are spoken
//   one by one ("A one C"), so the word error rate measures recognition and not spelling.
// - Slots follow the seed's commands exactly: drug and test are lexicon names, `add_note`'s
//   text is the words after the command words, lower case, without punctuation
//   (`normalizeWords(rest).join(' ')`). Every prescription says drug, dose and frequency.
// The seed names no drug or test, so the lexicons are common generics and common orders.

/** The unit of a prescribed dose. */
import { CLINICAL_DRUGS, CLINICAL_LAB_TESTS } from '../src/clinical.js';
export type DoseUnit = 'mg' | 'g' | 'mcg' | 'ml' | 'units' | 'tablets';

/** How often a prescribed drug is taken, as the prescription writes it. */
export type Frequency =
  | 'once daily'
  | 'twice daily'
  | 'three times daily'
  | 'four times daily'
  | 'every 4 hours'
  | 'every 6 hours'
  | 'every 8 hours'
  | 'as needed'
  | 'at bedtime';

/** What the speaker meant the assistant to do: one of the five commands and its slots. */
export type IntendedCommand =
  | {
      readonly name: 'write_prescription';
      readonly slots: {
        /** A {@link DRUGS} name. */
        readonly drug: string;
        readonly dose: { readonly value: number; readonly unit: DoseUnit };
        readonly frequency: Frequency;
      };
    }
  | {
      readonly name: 'add_note';
      /** `text`: the words after the command words, lower case, without punctuation. */
      readonly slots: { readonly text: string };
    }
  | {
      readonly name: 'order_lab';
      /** `test`: a {@link LAB_TESTS} name. */
      readonly slots: { readonly test: string };
    }
  | {
      readonly name: 'schedule_follow_up';
      readonly slots: {
        readonly in: { readonly value: number; readonly unit: 'day' | 'week' | 'month' };
      };
    }
  | {
      readonly name: 'record_blood_pressure';
      readonly slots: { readonly systolic: number; readonly diastolic: number };
    };

/** One thing a clinician (or patient) says, with what it was meant to do. */
export interface LabelledUtterance {
  /** Stable id: `rx-`, `note-`, `lab-`, `fu-`, `bp-` for commands, `neg-` for the rest. */
  readonly id: string;
  /** What is said, as written (numbers in words); this is what the voices speak. */
  readonly text: string;
  /** The command meant, or `null` when none of the five is meant. */
  readonly command: IntendedCommand | null;
  /** For a non-command: what a careless matcher would fire on. */
  readonly distractor?: string;
}

/** A lexicon entry: the name a slot takes, and the words it is said with. */
export interface LexiconEntry {
  /** The slot value, lower case (`"hemoglobin a1c"`). */
  readonly name: string;
  /** How it is said, as normalized words (`"hemoglobin a one c"`, `"a one c"`); first is usual. */
  readonly spoken: readonly string[];
}

const said = (name: string, ...others: string[]): LexiconEntry => ({
  name,
  spoken: [name, ...others],
});

function asEntry(entry: string | { readonly name: string; readonly spoken: readonly string[] }) {
  return typeof entry === 'string' ? said(entry) : said(entry.name, ...entry.spoken);
}

/**
 * The drug names of `write_prescription`'s `drug`: the clinical example's lexicon
 * (`CLINICAL_DRUGS` in src/clinical.ts), one list for the matcher and the corpus.
 */
export const DRUGS: readonly LexiconEntry[] = CLINICAL_DRUGS.map(asEntry);

/** The orders of `order_lab`'s `test`: the clinical example's `CLINICAL_LAB_TESTS`. */
export const LAB_TESTS: readonly LexiconEntry[] = CLINICAL_LAB_TESTS.map(asEntry);

const rx = (
  id: string,
  text: string,
  drug: string,
  value: number,
  unit: DoseUnit,
  frequency: Frequency,
): LabelledUtterance => ({
  id,
  text,
  command: { name: 'write_prescription', slots: { drug, dose: { value, unit }, frequency } },
});

const note = (id: string, text: string, noted: string): LabelledUtterance => ({
  id,
  text,
  command: { name: 'add_note', slots: { text: noted } },
});

const lab = (id: string, text: string, test: string): LabelledUtterance => ({
  id,
  text,
  command: { name: 'order_lab', slots: { test } },
});

const followUp = (
  id: string,
  text: string,
  value: number,
  unit: 'day' | 'week' | 'month',
): LabelledUtterance => ({
  id,
  text,
  command: { name: 'schedule_follow_up', slots: { in: { value, unit } } },
});

const bp = (id: string, text: string, systolic: number, diastolic: number): LabelledUtterance => ({
  id,
  text,
  command: { name: 'record_blood_pressure', slots: { systolic, diastolic } },
});

const none = (id: string, text: string, distractor: string): LabelledUtterance => ({
  id,
  text,
  command: null,
  distractor,
});

/** The 48 command utterances, grouped by command. */
export const COMMAND_UTTERANCES: readonly LabelledUtterance[] = [
  rx(
    'rx-01',
    'Sully, write a prescription for amoxicillin five hundred milligrams twice a day',
    'amoxicillin',
    500,
    'mg',
    'twice daily',
  ),
  rx(
    'rx-02',
    'okay, Sully, start her on lisinopril ten milligrams once a day',
    'lisinopril',
    10,
    'mg',
    'once daily',
  ),
  rx(
    'rx-03',
    'Sully, write prescription metformin five hundred milligrams twice daily',
    'metformin',
    500,
    'mg',
    'twice daily',
  ),
  rx(
    'rx-04',
    'um, Sully, prescribe azithromycin two hundred fifty milligrams daily',
    'azithromycin',
    250,
    'mg',
    'once daily',
  ),
  rx(
    'rx-05',
    'Sully, please write a prescription for cephalexin five hundred milligrams four times a day',
    'cephalexin',
    500,
    'mg',
    'four times daily',
  ),
  rx(
    'rx-06',
    'that should help. Sully, prescribe doxycycline one hundred milligrams twice a day',
    'doxycycline',
    100,
    'mg',
    'twice daily',
  ),
  rx(
    'rx-07',
    'Sully, start him on atorvastatin forty milligrams at bedtime',
    'atorvastatin',
    40,
    'mg',
    'at bedtime',
  ),
  rx(
    'rx-08',
    'Sully, write a prescription for acetaminophen, two tablets every four hours',
    'acetaminophen',
    2,
    'tablets',
    'every 4 hours',
  ),
  rx(
    'rx-09',
    'Sully, prescribe ondansetron four milligrams every eight hours',
    'ondansetron',
    4,
    'mg',
    'every 8 hours',
  ),
  rx(
    'rx-10',
    'Sully, prescribe levothyroxine fifty micrograms once daily',
    'levothyroxine',
    50,
    'mcg',
    'once daily',
  ),
  rx(
    'rx-11',
    'okay Sully, start her on insulin glargine ten units at bedtime',
    'insulin glargine',
    10,
    'units',
    'at bedtime',
  ),
  rx(
    'rx-12',
    'Sully, write a prescription for prednisone, take one tablet three times a day',
    'prednisone',
    1,
    'tablets',
    'three times daily',
  ),
  rx(
    'rx-13',
    'Sully, prescribe cetirizine ten milligrams as needed',
    'cetirizine',
    10,
    'mg',
    'as needed',
  ),
  rx(
    'rx-14',
    'Sully, prescribe five milliliters of acetaminophen every six hours',
    'acetaminophen',
    5,
    'ml',
    'every 6 hours',
  ),
  rx(
    'rx-15',
    'Sully, prescribe amoxicillin one gram three times a day',
    'amoxicillin',
    1,
    'g',
    'three times daily',
  ),

  note(
    'note-01',
    'Sully, add a note patient reports mild headache',
    'patient reports mild headache',
  ),
  note(
    'note-02',
    'Sully, add note: the cough started three days ago',
    'the cough started three days ago',
  ),
  note('note-03', 'okay Sully, add a note, allergic to penicillin', 'allergic to penicillin'),
  note(
    'note-04',
    'Sully, please add a note patient denies chest pain or shortness of breath',
    'patient denies chest pain or shortness of breath',
  ),
  note(
    'note-05',
    'thank you. Sully, add a note, follow up with cardiology next month',
    'follow up with cardiology next month',
  ),
  note(
    'note-06',
    'Sully, add a note, blood pressure well controlled on current medication',
    'blood pressure well controlled on current medication',
  ),
  note(
    'note-07',
    'um, Sully, add a note, patient would like a refill of her prescription',
    'patient would like a refill of her prescription',
  ),
  note('note-08', 'Sully, make a note the rash is improving', 'the rash is improving'),
  note(
    'note-09',
    'Sully, add to the note, she walks three times a week',
    'she walks three times a week',
  ),

  lab('lab-01', 'Sully, order a lipid panel', 'lipid panel'),
  lab('lab-02', 'okay thanks, Sully, order a urinalysis', 'urinalysis'),
  lab('lab-03', 'Sully, order a complete blood count please', 'complete blood count'),
  lab('lab-04', 'Sully, please order a hemoglobin A one C', 'hemoglobin a1c'),
  lab('lab-05', 'Sully, order a basic metabolic panel', 'basic metabolic panel'),
  lab('lab-06', 'um, Sully, can you order a thyroid panel', 'thyroid panel'),
  lab('lab-07', 'Sully, order a chest x-ray', 'chest x-ray'),
  lab(
    'lab-08',
    "let's check your kidneys. Sully, order a comprehensive metabolic panel",
    'comprehensive metabolic panel',
  ),
  lab('lab-09', 'Sully, order a CBC', 'complete blood count'),

  followUp('fu-01', 'Sully, schedule a follow up in two weeks', 2, 'week'),
  followUp('fu-02', 'okay, Sully, schedule a follow-up in three months', 3, 'month'),
  followUp('fu-03', 'Sully, schedule follow up in ten days', 10, 'day'),
  followUp('fu-04', 'Sully, please schedule a follow up visit in one month', 1, 'month'),
  followUp(
    'fu-05',
    "we'll see how the new dose works. Sully, schedule a follow up in six weeks",
    6,
    'week',
  ),
  followUp('fu-06', 'Sully, schedule a follow up appointment in a week', 1, 'week'),
  followUp('fu-07', 'Sully, book a follow up in two months', 2, 'month'),

  bp('bp-01', 'Sully, blood pressure one twenty over eighty', 120, 80),
  bp('bp-02', 'Sully, blood pressure one hundred twenty over eighty', 120, 80),
  bp('bp-03', 'Sully, record blood pressure one thirty five over eighty five', 135, 85),
  bp('bp-04', 'okay, Sully, record a blood pressure of one forty two over ninety', 142, 90),
  bp('bp-05', 'Sully, blood pressure is one eighteen over seventy six', 118, 76),
  bp('bp-06', 'Sully, log blood pressure one hundred and ten over seventy', 110, 70),
  bp('bp-07', "that's a little high. Sully, blood pressure one fifty over ninety five", 150, 95),
  bp('bp-08', 'Sully, record blood pressure ninety eight over sixty two', 98, 62),
];

/** The 36 utterances that mean none of the commands, each with the trap it sets. */
export const NON_COMMAND_UTTERANCES: readonly LabelledUtterance[] = [
  none(
    'neg-01',
    "I'm going to write you a prescription for amoxicillin, five hundred milligrams twice a day",
    'a full prescription, said to the patient, no wake word',
  ),
  none(
    'neg-02',
    'write a prescription for lisinopril ten milligrams once a day',
    'a command without the wake word',
  ),
  none('neg-03', 'order a lipid panel', 'a command without the wake word'),
  none(
    'neg-04',
    "we'll schedule a follow up in two weeks to see how you're doing",
    'follow-up words and a duration, no wake word',
  ),
  none(
    'neg-05',
    'your blood pressure today is one thirty over eighty five, which is a bit high',
    'a blood pressure reading, no wake word',
  ),
  none(
    'neg-06',
    'at the pharmacy my blood pressure was one forty over ninety',
    'a blood pressure reading from the patient',
  ),
  none('neg-07', 'Sully, can you hear me okay', 'the wake word, then no command'),
  none(
    'neg-08',
    'Sully is the assistant that writes my notes during the visit',
    'the wake word talked about, with note words',
  ),
  none('neg-09', 'thanks Sully', 'the wake word alone'),
  none(
    'neg-10',
    'yesterday I asked Sully to order a lipid panel for you',
    'the wake word and a whole command, reported, not given',
  ),
  none(
    'neg-11',
    'Sully already added a note about your allergy last time',
    'the wake word and note words, reported',
  ),
  none(
    'neg-12',
    'did the pharmacy get the prescription I sent for your metformin',
    'prescription words and a drug name',
  ),
  none(
    'neg-13',
    'the prescription for ibuprofen ran out last month',
    'prescription words, a drug name and a duration',
  ),
  none(
    'neg-14',
    'my daughter Sally takes the same prescription',
    'a sound-alike of the wake word, with prescription words',
  ),
  none(
    'neg-15',
    'Sally at the front desk will schedule your follow up',
    'a sound-alike of the wake word, with follow-up words',
  ),
  none('neg-16', "I'll add a note to your chart about the headaches", 'note words, no wake word'),
  none(
    'neg-17',
    'please make a note of any side effects you notice',
    'note words said to the patient',
  ),
  none(
    'neg-18',
    'we ordered a complete blood count last week and it came back normal',
    'order words and a lab name, past',
  ),
  none('neg-19', 'your hemoglobin A one C was seven point two', 'a lab name and numbers'),
  none('neg-20', 'do I need a chest x-ray for this cough', 'a lab name, asked by the patient'),
  none('neg-21', 'the urinalysis showed no infection', 'a lab name'),
  none(
    'neg-22',
    'can we follow up in a month instead of two weeks',
    'follow-up words and durations, asked by the patient',
  ),
  none(
    'neg-23',
    'I need to record your blood pressure again before you leave',
    'record blood pressure, no wake word, no reading',
  ),
  none(
    'neg-24',
    'blood pressure one twenty over eighty is what we aim for',
    'starts like a command, no wake word',
  ),
  none(
    'neg-25',
    'we could start you on atorvastatin if your cholesterol stays high',
    'start on a drug, no wake word, no dose',
  ),
  none(
    'neg-26',
    'are you taking the amoxicillin three times a day like we said',
    'a drug name and a frequency',
  ),
  none(
    'neg-27',
    'Sully, stop listening for a moment please',
    'the wake word, then a request that is none of the five',
  ),
  none(
    'neg-28',
    'Sully, what was her last blood pressure',
    'the wake word and blood pressure words, a question',
  ),
  none('neg-29', 'Sully, did you get all that', 'the wake word, then a question'),
  none(
    'neg-30',
    'the nurse will take your blood pressure and then order the labs',
    'blood pressure and order words',
  ),
  none(
    'neg-31',
    'you should take one tablet twice a day with food',
    'a dose and a frequency, no drug, no wake word',
  ),
  none(
    'neg-32',
    'I prescribe this to a lot of patients with the same problem',
    'prescribe, no wake word',
  ),
  none(
    'neg-33',
    "okay so we'll check a thyroid panel next time",
    'a lab name after okay, no wake word',
  ),
  none(
    'neg-34',
    'honestly I think Sully gets most of what we say',
    'the wake word in the middle of talk',
  ),
  none(
    'neg-35',
    "if the cough gets worse call us and we'll order a chest x-ray",
    'order and a lab name, conditional, no wake word',
  ),
  none(
    'neg-36',
    'silly me, I forgot to write your prescription',
    'a sound-alike of the wake word, with prescription words',
  ),
];

/** Every utterance of the corpus, commands first, in a fixed order. */
export const UTTERANCES: readonly LabelledUtterance[] = [
  ...COMMAND_UTTERANCES,
  ...NON_COMMAND_UTTERANCES,
];
