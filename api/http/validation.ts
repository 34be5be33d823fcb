import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { badRequest } from '../../lib/errors.ts';

export type BodyValidator = (schemaName: string, body: unknown) => void;

/** Loads one of the OpenAPI documents in spec/ (e.g. 'identity'). */
export function loadSpec(service: string): Record<string, any> {
  return parseYaml(readFileSync(new URL(`../../spec/${service}.yaml`, import.meta.url), 'utf8'));
}

function fieldOf(e: ErrorObject): string {
  const path = e.instancePath.replace(/^\//, '');
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return path ? `${path}/${missing}` : missing;
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return path ? `${path}/${extra}` : extra;
  }
  return path || 'body';
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'required') return `'${fieldOf(e)}' is a required property`;
  if (e.keyword === 'additionalProperties') return `Additional properties are not allowed ('${fieldOf(e)}' was unexpected)`;
  return `${e.message ?? 'is invalid'}`;
}

/**
 * Validates request bodies against `components.schemas` of an OpenAPI 3.1
 * document. A bad body is a 400 that names the field, as Keystone's
 * "Invalid input for field ..." does.
 */
export function createBodyValidator(spec: Record<string, any>): BodyValidator {
  const ajv = new Ajv2020({ allErrors: false, strict: false, coerceTypes: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema({ $id: 'spec', components: spec.components ?? {} });
  const compiled = new Map<string, ValidateFunction>();
  return (schemaName, body) => {
    let validate = compiled.get(schemaName);
    if (!validate) {
      if (!spec.components?.schemas?.[schemaName]) throw new Error(`spec has no schema ${schemaName}`);
      validate = ajv.compile({ $ref: `spec#/components/schemas/${schemaName}` });
      compiled.set(schemaName, validate);
    }
    if (body === undefined || body === null) throw badRequest('The request body is required and must be a JSON object.');
    if (!validate(body)) {
      const e = validate.errors![0];
      throw badRequest(`Invalid input for field '${fieldOf(e)}': ${describe(e)}`);
    }
  };
}
