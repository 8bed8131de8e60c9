// C sources are embedded in the bundle as text (`with { type: "text" }`).
declare module "*.c" {
  const text: string;
  export default text;
}

declare module "*.h" {
  const text: string;
  export default text;
}
