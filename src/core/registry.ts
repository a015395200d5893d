/** Plugins (probes, healers, ticket providers) keyed by their config `type`. */
export class Registry<T extends { type: string }> {
  private readonly byType = new Map<string, T>();
  constructor(readonly kind: string, plugins: readonly T[]) {
    for (const plugin of plugins) {
      if (this.byType.has(plugin.type)) throw new Error(`${kind} type "${plugin.type}" is registered twice`);
      this.byType.set(plugin.type, plugin);
    }
  }
  get types(): string[] {
    return [...this.byType.keys()];
  }
  has(type: string): boolean {
    return this.byType.has(type);
  }
  get(type: string): T {
    const plugin = this.byType.get(type);
    if (!plugin) {
      const known = this.types.length ? this.types.join(', ') : '(none yet)';
      throw new Error(`unknown ${this.kind} type "${type}"; known: ${known}`);
    }
    return plugin;
  }
  all(): T[] {
    return [...this.byType.values()];
  }
}
