export { registerNumber } from './register-number';
