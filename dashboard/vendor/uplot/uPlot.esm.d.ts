// Types for the vendored uPlot build as the dashboard uses it: the constructor only. Its option objects are
// plain data checked by uPlot at run time; the dashboard's type check (tsconfig.dashboard.json) stops here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const uPlot: new (options: any, data: unknown, target: HTMLElement) => { destroy(): void; setSize(size: { width: number; height: number }): void };
export default uPlot;
