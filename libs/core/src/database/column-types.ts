import type { ValueTransformer } from 'typeorm';

/** BIGINT columns (unix ms times) come back as numbers in both dialects. */
export const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};
