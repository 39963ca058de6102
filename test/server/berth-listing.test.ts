import { describe, expect, it } from 'vitest';
import type { Container, ContainerSummary } from '../../src/index.js';
import { http, openEvents, serve } from '../events/helpers.js';
import { expectJsonError } from './helpers.js';

/*
 * berth's own /v1 listings go through the engine's listing query: `GET /v1/containers`
 * takes podman's filters, a sort and a limit (whole objects, or `view=summary`), and every
 * /v1 read takes `?namespace=NS`.
 */

describe('GET /v1/containers through the listing query', () => {
  it('filters, sorts, limits and answers summaries or whole objects; ?namespace= confines every read', async () => {
    const store = await openEvents();
    const web = await store.addContainer({
      config: { name: 'web', image: 'nginx:1.27', labels: { app: 'web' } },
      state: { status: 'running' },
    });
    await store.addContainer({ config: { name: 'job', image: 'busybox' }, state: { status: 'exited', exitCode: 1 } });
    await store
      .withNamespace('shop')
      .addContainer({ config: { name: 'shop-db', image: 'postgres:16' }, state: { status: 'running' } });
    await store.withNamespace('shop').workspaces.create('staging');
    const api = await serve(store);

    const full = (await http(api.url, '/v1/containers?filter=label=app=web')).json as Container[];
    expect(full).toEqual([web]);
    const summaries = (await http(api.url, '/v1/containers?view=summary&filter=ancestor=nginx'))
      .json as ContainerSummary[];
    expect(summaries.map((s) => [s.name, s.state, s.labels])).toEqual([['web', 'running', { app: 'web' }]]);
    const exited = (await http(api.url, '/v1/containers?filter=status=exited&view=summary')).json as ContainerSummary[];
    expect(exited.map((s) => [s.name, s.exitCode])).toEqual([['job', 1]]);
    const running = (await http(api.url, '/v1/containers?running=true&sort=names&view=summary'))
      .json as ContainerSummary[];
    expect(running.map((s) => s.name)).toEqual(['shop-db', 'web']);
    const one = (await http(api.url, '/v1/containers?sort=names&limit=1&view=summary')).json as ContainerSummary[];
    expect(one.map((s) => s.name)).toEqual(['job']);
    const narrow = (await http(api.url, '/v1/containers?view=summary&sort=names&fields=name,status')).json;
    expect(narrow).toEqual([
      { id: expect.any(String), name: 'job', status: 'exited' },
      { id: expect.any(String), name: 'shop-db', status: 'running' },
      { id: expect.any(String), name: 'web', status: 'running' },
    ]);
    // Without a listing parameter: every container as stored, as before.
    expect(((await http(api.url, '/v1/containers')).json as Container[]).map((c) => c.config.name)).toEqual([
      'web',
      'job',
      'shop-db',
    ]);

    const shop = (await http(api.url, '/v1/containers?namespace=shop')).json as Container[];
    expect(shop.map((c) => c.config.name)).toEqual(['shop-db']);
    const state = (await http(api.url, '/v1/state?namespace=shop')).json as {
      containers: Container[];
      workspaces: { name: string }[];
    };
    expect(state.containers.map((c) => c.config.name)).toEqual(['shop-db']);
    expect(state.workspaces.map((w) => w.name).sort()).toEqual(['default', 'staging']);

    expectJsonError(await http(api.url, '/v1/containers?filter=nokey=x'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?filter=status=bogus'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?filter=novalue'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?view=tall'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?limit=-1'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?view=summary&fields=name,bogus'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?fields=name'), 400, 'INVALID_ARGUMENT');
    expectJsonError(await http(api.url, '/v1/containers?namespace=a%20b'), 400, 'INVALID_NAME');
  });
});
