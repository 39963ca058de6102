import { describe, expect, it } from 'vitest';
import { BerthError } from '../../src/errors.js';
import {
  checkFields,
  fieldsUsed,
  headerOf,
  parseTemplate,
  renderTemplate,
  showValue,
  type TemplateData,
} from '../../src/cli/template.js';

const rows: TemplateData[] = [
  { ID: 'a1f3', Names: 'web', Status: 'Up 2 minutes', Labels: { tier: 'front', app: 'web' }, Ports: [], N: 3 },
  { ID: 'c3d5', Names: 'job', Status: 'Exited (3) 2 hours ago', Labels: {}, Ports: ['80', '443'], N: 0 },
];

function usage(fn: () => unknown): BerthError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BerthError);
    const e = err as BerthError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details.usage).toBe(true);
    return e;
  }
  throw new Error('expected a usage error');
}

const render = (format: string, data = rows): string => renderTemplate(parseTemplate(format), data);

describe('Go-template --format', () => {
  it('prints a field per row, one line each', () => {
    expect(render('{{.Names}}')).toBe('web\njob\n');
    expect(render('{{ .Names }}:{{.ID}}')).toBe('web:a1f3\njob:c3d5\n');
  });

  it('keeps literal text and reads \\t and \\n as a tab and a newline', () => {
    expect(render('name={{.Names}}\\t{{.N}}')).toBe('name=web\t3\nname=job\t0\n');
    expect(render('{{.Names}}\\n')).toBe('web\njob\n');
    expect(render('no fields')).toBe('no fields\nno fields\n');
  });

  it('prints maps as sorted key=value pairs, lists joined with commas, and reads keys of maps', () => {
    expect(render('{{.Labels}}')).toBe('app=web,tier=front\n\n');
    expect(render('{{.Ports}}')).toBe('\n80,443\n');
    expect(render('{{.Labels.tier}}|')).toBe('front|\n|\n');
    expect(showValue(null)).toBe('');
    expect(showValue(true)).toBe('true');
  });

  it('json prints the field or the whole row as compact JSON', () => {
    expect(render('{{json .Labels}}')).toBe('{"tier":"front","app":"web"}\n{}\n');
    expect(render('{{json .Names}}')).toBe('"web"\n"job"\n');
    expect(JSON.parse(render('{{json .}}', [rows[0]!]))).toEqual(rows[0]);
    // `whole` gives what `.` is (the command's JSON row).
    const t = parseTemplate('{{json .}}');
    expect(renderTemplate(t, rows, { whole: (_, i) => ({ row: i }) })).toBe('{"row":0}\n{"row":1}\n');
  });

  it('table prints upper-cased headers and aligns the columns', () => {
    expect(render('table {{.ID}}\\t{{.Status}}\\t{{.Names}}')).toBe(
      [
        'ID    STATUS                  NAMES',
        'a1f3  Up 2 minutes            web',
        'c3d5  Exited (3) 2 hours ago  job',
        '',
      ].join('\n'),
    );
    // Without tabs, the blanks between fields separate the columns.
    expect(render('table {{.ID}} {{.Names}}')).toBe('ID    NAMES\na1f3  web\nc3d5  job\n');
    // The command's own headers (podman's CONTAINER ID) win.
    const t = parseTemplate('table {{.ID}}\t{{.Names}}');
    expect(renderTemplate(t, [], { headers: { ID: 'CONTAINER ID' } })).toBe('CONTAINER ID  NAMES\n');
    expect(parseTemplate('table').nodes).toEqual([]);
    expect(parseTemplate('table').table).toBe(true);
    expect(parseTemplate('tablet {{.ID}}').table).toBe(false);
  });

  it('headers split camel case words as podman does', () => {
    expect(headerOf(['PodName'])).toBe('POD NAME');
    expect(headerOf(['ExitCode'])).toBe('EXIT CODE');
    expect(headerOf(['ID'])).toBe('ID');
    expect(headerOf(['InfraID'])).toBe('INFRA ID');
    expect(headerOf(['Labels', 'app'])).toBe('APP');
  });

  it('lists the fields a template names, and whether it reads the whole row', () => {
    expect(fieldsUsed(parseTemplate('{{.ID}} {{json .Labels}} {{.Labels.app}} {{.ID}}'))).toEqual({
      fields: ['ID', 'Labels'],
      whole: false,
    });
    expect(fieldsUsed(parseTemplate('{{.Mounts}} {{json .}}'))).toEqual({ fields: ['Mounts'], whole: true });
    expect(fieldsUsed(parseTemplate('plain'))).toEqual({ fields: [], whole: false });
  });

  it('an unknown field is a usage error naming the valid fields', () => {
    const e = usage(() => checkFields(parseTemplate('{{.ID}} {{.Nme}}'), ['ID', 'Names'], 'containers'));
    expect(e.message).toMatch(/\.Nme/);
    expect(e.message).toMatch(/\.ID, \.Names/);
    expect(e.details.fields).toEqual(['ID', 'Names']);
    // Go templates are case-sensitive.
    usage(() => checkFields(parseTemplate('{{.names}}'), ['ID', 'Names'], 'containers'));
    expect(() => checkFields(parseTemplate('{{json .}} {{.Names}}'), ['Names'], 'containers')).not.toThrow();
  });

  it('malformed templates are usage errors', () => {
    expect(usage(() => parseTemplate('{{.Names')).message).toMatch(/never closed/);
    expect(usage(() => parseTemplate('{{}}')).message).toMatch(/empty/);
    expect(usage(() => parseTemplate('{{upper .Names}}')).message).toMatch(/unknown function "upper"/);
    usage(() => parseTemplate('{{json}}'));
    usage(() => parseTemplate('{{json .A .B}}'));
    usage(() => parseTemplate('{{.Names .ID}}'));
    usage(() => parseTemplate('{{.Na-me}}'));
    usage(() => parseTemplate('{{"text"}}'));
  });
});
